"""Documents as PDF: an HTML page (a template rendered like any other page, with its
print stylesheet) turned into PDF bytes by WeasyPrint.

* WeasyPrint is imported on first use, not with the server: it costs about half a second
  and tens of MiB, which a process that never prints (most of them) should not pay.
* Rendering takes tens to hundreds of milliseconds of CPU, so it runs in a worker thread
  and never blocks the event loop.
* Nothing is fetched from the network: a document refers only to what is inside it
  (inline styles, ``data:`` images such as a QR code). Any other URL is refused, so a
  value typed into a record can never make the server fetch a URL.
"""

from __future__ import annotations

import anyio


def _render(html: str, stylesheet: str | None) -> bytes:
    # Imported here, on first use (see the module docstring).
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    # Only ``data:`` URLs, which never leave the process.
    no_network = URLFetcher(allowed_protocols={"data"})
    sheets = [CSS(string=stylesheet, url_fetcher=no_network)] if stylesheet else []
    document = HTML(string=html, url_fetcher=no_network)
    pdf: bytes = document.write_pdf(stylesheets=sheets)
    return pdf


async def html_to_pdf(html: str, *, stylesheet: str | None = None) -> bytes:
    """The PDF of ``html`` (a whole document), styled by its own ``<style>`` and by
    ``stylesheet``; rendered in a worker thread."""
    return await anyio.to_thread.run_sync(_render, html, stylesheet)
