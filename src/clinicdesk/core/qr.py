"""QR codes for pages and documents: a link as an SVG data URI (the pages' CSP allows
``img-src data:``, and a PDF embeds it without fetching anything)."""

from __future__ import annotations

import segno


def qr_data_uri(link: str, *, scale: int = 5) -> str:
    return str(segno.make(link, error="m").svg_data_uri(scale=scale, border=2))
