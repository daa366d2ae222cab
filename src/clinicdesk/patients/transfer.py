"""Moving document bytes over HTTP, for the API and the pages alike: an incoming multipart
file as an ``Upload``, a stored document as a download response."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import UploadFile
from fastapi.responses import StreamingResponse

from clinicdesk.core.filetypes import ALLOWED_TYPES, HEAD_BYTES, content_disposition
from clinicdesk.core.storage import CHUNK_SIZE
from clinicdesk.patients.service.documents import Download, Upload

# The canonical extension of each type documents are stored as (judged at upload).
_EXTENSIONS = {kind.mime_type: kind.extension for kind in ALLOWED_TYPES}
# For a download route's OpenAPI description (with ``response_class=StreamingResponse``,
# which has no media type of its own, so no JSON answer is described).
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, with the type judged at upload",
        "content": {
            kind.mime_type: {"schema": {"type": "string", "format": "binary"}}
            for kind in ALLOWED_TYPES
        },
    }
}


async def upload_from(file: UploadFile) -> Upload:
    """An ``Upload`` over a multipart file: its head for the type check, then chunks."""
    head = await file.read(HEAD_BYTES)
    await file.seek(0)

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await file.read(CHUNK_SIZE):
            yield chunk

    return Upload(filename=file.filename or "", head=head, chunks=chunks())


def download_response(download: Download, *, inline: bool = False) -> StreamingResponse:
    """The file with the type judged at upload; it can never run script in our origin."""
    document = download.document
    extension = _EXTENSIONS.get(document.content_type, "bin")
    return StreamingResponse(
        download.content,
        media_type=document.content_type,
        headers={
            "Content-Disposition": content_disposition(
                document.original_filename, extension, inline=inline
            ),
            "Content-Length": str(document.size_bytes),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            # Even a document opened directly cannot run script in the clinic's origin.
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
        },
    )
