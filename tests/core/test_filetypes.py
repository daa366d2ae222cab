"""Document types from content, and download names that are safe in a header."""

from __future__ import annotations

import re
import struct
import zlib
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinicdesk.core.filetypes import (
    ALLOWED_TYPES,
    GIF,
    HEAD_BYTES,
    HEIC,
    JPEG,
    PDF,
    PNG,
    TIFF,
    WEBP,
    AllowedType,
    content_disposition,
    safe_download_name,
    sniff_document_type,
)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def tiny_png() -> bytes:
    """A complete, valid 1x1 grey PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# SOI, then an APP0 "JFIF" segment, as cameras and scanners write it.
JFIF_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
# SOI, then an APP1 "Exif" segment (phones).
EXIF_JPEG = b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00II*\x00\x08\x00\x00\x00"
TINY_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def riff(form: bytes, chunk: bytes) -> bytes:
    payload = form + chunk + struct.pack("<I", 4) + b"\x00" * 4
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = b"".join(compatible)
    return struct.pack(">I", 16 + len(brands)) + b"ftyp" + major + b"\x00\x00\x00\x00" + brands


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (MINIMAL_PDF, PDF),
        (b"%PDF-2.0\n", PDF),
        (JFIF_JPEG, JPEG),
        (EXIF_JPEG, JPEG),
        (tiny_png(), PNG),
        (TINY_GIF, GIF),
        (b"GIF87a\x01\x00\x01\x00", GIF),
        (riff(b"WEBP", b"VP8 "), WEBP),
        (riff(b"WEBP", b"VP8L"), WEBP),
        (riff(b"WEBP", b"VP8X"), WEBP),
        (b"II*\x00\x08\x00\x00\x00", TIFF),
        (b"MM\x00*\x00\x00\x00\x08", TIFF),
        (ftyp(b"heic", b"mif1", b"heic"), HEIC),
        # What iPhones write: the generic HEIF brand, with "heic" among the compatible.
        (ftyp(b"mif1", b"mif1", b"heic", b"miaf"), HEIC),
    ],
    ids=lambda value: value.mime_type if isinstance(value, AllowedType) else None,
)
def test_allowed_documents_are_recognised(content: bytes, expected: AllowedType) -> None:
    assert sniff_document_type(content) == expected
    assert sniff_document_type(content[:HEAD_BYTES]) == expected


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"<html><body>hi</body></html>", id="html"),
        pytest.param(b"<!DOCTYPE html><html>", id="doctype"),
        pytest.param(b" \r\n\t <html><script>alert(1)</script>", id="whitespace-then-html"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            id="svg",
        ),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="bare-svg"),
        pytest.param(b'<?xml version="1.0"?><note/>', id="xml"),
        pytest.param(b"alert(document.cookie)", id="javascript"),
        pytest.param(b"#!/bin/sh\nrm -rf /\n", id="shell-script"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml", id="zip-docx"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24, id="old-office"),
        pytest.param(b"{\\rtf1\\ansi", id="rtf"),
        pytest.param(b"MZ\x90\x00\x03\x00\x00\x00", id="exe"),
        pytest.param(b"\x7fELF\x02\x01\x01\x00", id="elf"),
        pytest.param(b"\xef\xbb\xbf%PDF-1.7\n", id="bom-before-pdf"),
        pytest.param(b"<html>" + b" " * 100 + b"%PDF-1.7\n", id="html-then-pdf"),
        pytest.param(b"%PDF-\n", id="pdf-without-version"),
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
        pytest.param(b"\xff\xd8", id="jpeg-soi-only"),
        pytest.param(riff(b"WAVE", b"fmt "), id="wav"),
        pytest.param(riff(b"WEBP", b"<htm"), id="webp-bad-chunk"),
        pytest.param(ftyp(b"avif", b"avif", b"mif1"), id="avif"),
        pytest.param(ftyp(b"isom", b"isom", b"mp41"), id="mp4"),
        # "heic" after the end of the declared ftyp box belongs to the next box.
        pytest.param(ftyp(b"mif1") + b"heic", id="heic-outside-box"),
        pytest.param(b"\x00\x00\x00\x0fftypheic" + b"\x00" * 8, id="ftyp-odd-size"),
        pytest.param(b"GIF8", id="gif-truncated"),
        pytest.param(b"%!PS-Adobe-3.0", id="postscript"),
    ],
)
def test_everything_else_is_refused(content: bytes) -> None:
    assert sniff_document_type(content) is None


def test_only_pdf_and_raster_images_are_allowed() -> None:
    mime_types = {allowed.mime_type for allowed in ALLOWED_TYPES}
    assert mime_types == {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/heic",
    }


@given(st.binary(max_size=64))
def test_any_bytes_give_an_allowed_type_or_none(content: bytes) -> None:
    assert sniff_document_type(content) in (*ALLOWED_TYPES, None)


@given(st.sampled_from([b" ", b"\t", b"\n", b"<", b"\xef\xbb\xbf"]), st.binary(max_size=64))
def test_text_markup_is_never_a_document(start: bytes, rest: bytes) -> None:
    assert sniff_document_type(start + rest) is None


# --- download names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ext", "expected"),
    [
        ("report.pdf", "pdf", "report.pdf"),
        ("Befund Müller.pdf", "pdf", "Befund Muller.pdf"),
        ("C:\\Users\\ana\\Scans\\Ecografía 12-03.pdf", "pdf", "Ecografia 12-03.pdf"),
        ("../../etc/passwd", "pdf", "passwd.pdf"),
        ("photo.JPEG", "jpg", "photo.jpg"),
        ("IMG_0001.HEIC", ".heic", "IMG_0001.heic"),
        ("scan.tif", "tiff", "scan.tiff"),
        ("photo.html", "png", "photo.html.png"),
        ("scan.2024.03", "pdf", "scan.2024.03.pdf"),
        ("a\r\nb\x00c.pdf", "pdf", "a b c.pdf"),
        ("scan\u202efdp.exe", "pdf", "scan fdp.exe.pdf"),
        ('x"; filename=evil.html', "pdf", "x_ filename_evil.html.pdf"),
        (".bashrc", "pdf", "bashrc.pdf"),
        ("", "pdf", "document.pdf"),
        ("...", "pdf", "document.pdf"),
        ("folder/", "gif", "document.gif"),
        ("检查报告.pdf", "pdf", "JianChaBaoGao.pdf"),
    ],
)
def test_download_names_are_ascii_and_end_in_the_sniffed_extension(
    name: str, ext: str, expected: str
) -> None:
    assert safe_download_name(name, ext) == expected


def test_long_names_are_shortened_but_keep_their_extension() -> None:
    result = safe_download_name("x" * 500 + ".pdf", "pdf")
    assert result == "x" * 120 + ".pdf"


@pytest.mark.parametrize("ext", ["", ".", "p df", "pdf/../x", "a" * 11, "pdf\n"])
def test_an_invalid_extension_is_a_programming_error(ext: str) -> None:
    with pytest.raises(ValueError, match="extension"):
        safe_download_name("x", ext)


@given(st.text(max_size=200), st.sampled_from([t.extension for t in ALLOWED_TYPES]))
def test_any_name_becomes_a_safe_one(name: str, ext: str) -> None:
    result = safe_download_name(name, ext)
    assert re.fullmatch(r"[A-Za-z0-9 ._()+,\-]+", result)
    assert result.endswith(f".{ext}")
    assert not result.startswith((".", " "))
    assert len(result) <= 120 + 1 + len(ext)


def test_content_disposition_of_a_plain_name() -> None:
    assert content_disposition("report.pdf", "pdf") == 'attachment; filename="report.pdf"'
    # Nothing to add in filename*: the invisible override is gone from both forms.
    assert content_disposition("scan\u202efdp.exe", "pdf") == (
        'attachment; filename="scan fdp.exe.pdf"'
    )
    assert content_disposition("photo.png", "png", inline=True) == ('inline; filename="photo.png"')


@pytest.mark.parametrize(
    ("name", "ext", "ascii_name", "unicode_name"),
    [
        ("Befund Müller.pdf", "pdf", "Befund Muller.pdf", "Befund Müller.pdf"),
        ("检查报告", "jpg", "JianChaBaoGao.jpg", "检查报告.jpg"),
        ('say "hi";.png', "png", "say _hi.png", "say _hi_;.png"),
    ],
)
def test_content_disposition_keeps_the_letters_for_browsers_that_read_them(
    name: str, ext: str, ascii_name: str, unicode_name: str
) -> None:
    header = content_disposition(name, ext)
    assert header.isascii()
    disposition, plain, extended = header.split("; ")
    assert disposition == "attachment"
    assert plain == f'filename="{ascii_name}"'
    charset, language, encoded = extended.removeprefix("filename*=").split("'")
    assert (charset, language) == ("UTF-8", "")
    assert unquote(encoded, errors="strict") == unicode_name
