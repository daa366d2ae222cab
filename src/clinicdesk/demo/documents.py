"""The demo's documents: one-page PDFs and small PNGs made on the spot, so the demo needs
no files of its own."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from anyascii import anyascii

from clinicdesk.config import MIB
from clinicdesk.demo.patient_plan import (
    PlannedDocument,
)
from clinicdesk.patients.models import Patient
from clinicdesk.patients.vocabulary import DocumentCategory

MAX_DOCUMENT_BYTES = MIB


def pdf_document(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with a bold title and lines of text (Helvetica, no embedded fonts)."""

    def text(value: str) -> bytes:
        try:
            encoded = value.encode("cp1252")  # what WinAnsiEncoding shows: é, ü, ñ ...
        except UnicodeEncodeError:
            encoded = anyascii(value).encode("cp1252", "replace")
        return encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")

    stream = b"BT /F1 16 Tf 72 740 Td (" + text(title) + b") Tj /F2 11 Tf 16 TL 0 -10 Td"
    for line in lines:
        stream += b" T* (" + text(line) + b") Tj"
    stream += b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R"
        b" /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title (" + text(title) + b") /Producer (ClinicDesk demo) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


Pixel = Callable[[int, int], tuple[int, int, int]]


def png_image(width: int, height: int, pixel: Pixel) -> bytes:
    """An 8-bit RGB PNG: signature, IHDR, one zlib IDAT, IEND, each with its CRC."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in pixel(x, y)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _silhouette(x: int, y: int) -> tuple[int, int, int]:
    """A 64x64 placeholder portrait: a head and shoulders on a pale blue background."""
    head = (x - 32) ** 2 + (y - 24) ** 2 <= 12**2
    shoulders = y >= 44 and (x - 32) ** 2 / 26**2 + (y - 64) ** 2 / 20**2 <= 1
    return (96, 110, 130) if head or shoulders else (214, 228, 240)


def _insurance_card(x: int, y: int) -> tuple[int, int, int]:
    """An 86x54 card: a blue band with the payer's 'logo', grey bars for the printed text."""
    if y < 14:
        return (255, 255, 255) if 6 <= x <= 14 and 4 <= y <= 10 else (30, 80, 160)
    if y in (22, 23, 30, 31, 38, 39) and 6 <= x <= (60 if y < 30 else 44):
        return (120, 120, 120)
    return (250, 250, 247)


# The text of the scanned reports the plan names (``patient_plan.REPORTS``).
REPORT_LINES: dict[str, tuple[str, ...]] = {
    "Lipid panel": (
        "Total cholesterol 212 mg/dL (desirable < 200)",
        "LDL cholesterol 138 mg/dL (optimal < 100)",
        "HDL cholesterol 46 mg/dL (> 40)",
        "Triglycerides 141 mg/dL (< 150)",
    ),
    "Hemoglobin A1c": (
        "Hemoglobin A1c 7.2 % (target < 7.0 %)",
        "Fasting glucose 134 mg/dL (70-99)",
    ),
    "Referral to cardiology": (
        "Reason: palpitations, intermittent, for 3 months.",
        "ECG in clinic: sinus rhythm, rate 78.",
        "Please assess for paroxysmal atrial fibrillation.",
    ),
    "Chest X-ray report": (
        "PA and lateral views.",
        "Lungs clear. Heart size normal. No effusion.",
        "Impression: no acute cardiopulmonary process.",
    ),
    "Consent to treatment": (
        "I consent to examination and treatment by Riverside Family Clinic.",
        "Signed at the front desk.",
    ),
}


def document_content(document: PlannedDocument, patient: Patient) -> bytes:
    if document.category == DocumentCategory.PHOTO:
        return png_image(64, 64, _silhouette)
    if document.category == DocumentCategory.INSURANCE_CARD:
        return png_image(86, 54, _insurance_card)
    header = [
        "Riverside Family Clinic",
        f"Patient: {patient.given_name} {patient.family_name}   MRN {patient.mrn}"
        f"   DOB {patient.birth_date.isoformat()}",
        "",
    ]
    footer = ["", "Demo document: fictional patient, not a medical record."]
    return pdf_document(document.title, [*header, *REPORT_LINES[document.title], *footer])
