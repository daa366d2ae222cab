"""What an uploaded document really is, judged from its first bytes, and its download name.

Only PDF and common raster images are accepted. The type comes from the content, never
from the file name or the client's Content-Type: both are chosen by the sender. HTML, SVG,
XML, scripts, archives and office files are refused because a browser may run what they
contain (script in SVG or HTML, macros) in the clinic's origin.

Each allowed format is recognised by a signature anchored at offset 0, written out here,
rather than by ``puremagic``. Tried on the same samples, puremagic ranks guesses by
"confidence" over many signatures (some at other offsets or at the end of a file), returns
several candidates for one header (PDF and FDF for ``%PDF``) and reads an iPhone HEIC photo
(``ftypmif1`` + ``heic``) as ``video/mp4``. An allow-list of seven anchored checks is short
enough to read and leaves nothing to ranking.

Sniffing does not make a file harmless (a PDF may carry JavaScript for its viewer, a GIF may
also parse as a script): serve documents with the sniffed type, ``X-Content-Type-Options:
nosniff`` and :func:`content_disposition`, so that browsers treat them as that type only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from anyascii import anyascii

HEAD_BYTES: Final = 512
"""How many leading bytes :func:`sniff_document_type` looks at; pass at least this many
(or the whole file when it is shorter)."""


@dataclass(frozen=True, slots=True)
class AllowedType:
    mime_type: str
    extension: str
    """The canonical extension, without the dot, used for download names."""
    aliases: frozenset[str] = frozenset()
    """Other extensions people give this type (``jpeg`` for ``jpg``), replaced on download."""


PDF: Final = AllowedType("application/pdf", "pdf")
JPEG: Final = AllowedType("image/jpeg", "jpg", frozenset({"jpeg", "jpe", "jfif"}))
PNG: Final = AllowedType("image/png", "png")
GIF: Final = AllowedType("image/gif", "gif")
WEBP: Final = AllowedType("image/webp", "webp")
TIFF: Final = AllowedType("image/tiff", "tiff", frozenset({"tif"}))
HEIC: Final = AllowedType("image/heic", "heic", frozenset({"heif"}))

ALLOWED_TYPES: Final = (PDF, JPEG, PNG, GIF, WEBP, TIFF, HEIC)

# PDF 1.0-2.0 begin "%PDF-<major>.<minor>" at offset 0. Readers tolerate junk before it;
# refusing that keeps HTML-then-PDF polyglots out, and real scanners never write it.
_PDF = re.compile(rb"%PDF-[12]\.\d")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The PNG specification requires IHDR (13 data bytes) as the first chunk.
_PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
_WEBP_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X"})
# HEIF brands of still images coded with HEVC (ISO/IEC 23008-12 Annex B): "heic"/"heix"
# (8 and 10+ bit), "heim"/"heis" (multi-layer, scalable). AVIF and image sequences share
# the container but are not on the allowed list.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis"})
# iPhones and most cameras write major brand "mif1" and list "heic" as compatible.
_HEIF_GENERIC_BRANDS = frozenset({b"mif1"})


def _is_jpeg(head: bytes) -> bool:
    # SOI (FFD8) followed by the first marker segment (FF C0..FE: APPn, DQT, SOF, ...).
    return head[:3] == b"\xff\xd8\xff" and len(head) > 3 and 0xC0 <= head[3] <= 0xFE


def _is_heic(head: bytes) -> bool:
    # An ISO BMFF file starts with its "ftyp" box: size (32-bit big-endian), "ftyp", the
    # major brand, a minor version, then compatible brands to the end of the box.
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    box_size = int.from_bytes(head[:4], "big")
    if box_size < 16 or box_size % 4:
        return False
    major = head[8:12]
    if major in _HEIC_BRANDS:
        return True
    if major not in _HEIF_GENERIC_BRANDS:
        return False
    compatible = head[16 : min(box_size, len(head))]
    return any(compatible[i : i + 4] in _HEIC_BRANDS for i in range(0, len(compatible), 4))


def sniff_document_type(head: bytes) -> AllowedType | None:
    """The allowed type whose signature ``head`` starts with, or ``None``.

    ``head`` is the beginning of the file (see :data:`HEAD_BYTES`). Anything not positively
    recognised is refused, including empty input and text with leading whitespace.
    """
    if _PDF.match(head):
        return PDF
    if _is_jpeg(head):
        return JPEG
    if head.startswith(_PNG_SIGNATURE) and head[8:16] == _PNG_IHDR:
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in _WEBP_CHUNKS:
        return WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if _is_heic(head):
        return HEIC
    return None


_MAX_STEM = 120
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")
# Characters kept in the ASCII name: readable, and none of them is special in a quoted
# header parameter (" and \) or in a path (/, \, :) on any system.
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()+,\-]+")
_SPACES = re.compile(r"\s+")
_TRIM = " ._-"


def _base_name(name: str) -> str:
    # Both separators: a name from Windows arrives as C:\Users\ana\scan.pdf.
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _without_invisible(name: str) -> str:
    # Control and format characters (Cc, Cf) include CR/LF and the right-to-left override
    # U+202E, which makes "scan\u202efdp.exe" display as "scanexe.pdf".
    return "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in name
    )


def _finish(stem: str, ext: str) -> str:
    stem = _SPACES.sub(" ", stem).strip(_TRIM)
    head, dot, suffix = stem.rpartition(".")
    if dot and head and (suffix.lower() == ext or suffix.lower() in _aliases(ext)):
        stem = head.rstrip(_TRIM)
    stem = stem[:_MAX_STEM].rstrip(_TRIM)
    return f"{stem or 'document'}.{ext}"


def _aliases(ext: str) -> frozenset[str]:
    for allowed in ALLOWED_TYPES:
        if allowed.extension == ext:
            return allowed.aliases
    return frozenset()


def _check_extension(ext: str) -> str:
    cleaned = ext.removeprefix(".").lower()
    if not _EXTENSION.fullmatch(cleaned):
        raise ValueError(f"not a file extension: {ext!r}")
    return cleaned


def safe_download_name(name: str, ext: str) -> str:
    """An ASCII file name for a download, readable and safe in any header or file system.

    Folders are dropped, letters are transliterated (``Müller`` → ``Muller``), quotes,
    control characters and other unsafe characters become ``_``, and the name always ends
    in ``.<ext>``: the extension of the *sniffed* type, so a file sent as ``photo.html`` is
    downloaded as ``photo.html.pdf`` and opens as what it is. An extension that already
    names that type (``.JPEG`` for ``jpg``) is replaced rather than doubled. ``ext`` must be
    1-10 letters or digits (a leading dot is ignored), otherwise ``ValueError``.
    """
    ext = _check_extension(ext)
    ascii_name = anyascii(unicodedata.normalize("NFC", _without_invisible(_base_name(name))))
    stem = re.sub(r"_+", "_", _UNSAFE_ASCII.sub("_", ascii_name))
    return _finish(stem, ext)


def content_disposition(name: str, ext: str, *, inline: bool = False) -> str:
    """The ``Content-Disposition`` value for a stored document, per RFC 6266.

    ``filename`` carries :func:`safe_download_name` for every client; ``filename*``
    (RFC 8187, UTF-8) adds the original letters when transliteration changed them, for
    browsers that read it. Starlette's ``FileResponse`` builds this header only for files
    on disk (not for streamed S3 objects), sends ``filename*`` without an ASCII fallback
    and does not clean the name, so it is built here.
    """
    ascii_name = safe_download_name(name, ext)
    disposition = "inline" if inline else "attachment"
    header = f'{disposition}; filename="{ascii_name}"'
    unicode_stem = re.sub(r'[\\/"]+', "_", _without_invisible(_base_name(name)))
    unicode_name = _finish(unicodedata.normalize("NFC", unicode_stem), _check_extension(ext))
    if unicode_name != ascii_name:
        header += f"; filename*=UTF-8''{quote(unicode_name, safe='')}"
    return header
