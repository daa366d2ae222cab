"""Documents as PDF: real WeasyPrint (Pango from Debian), the text read back with pypdf;
no external fetches; the server does not import WeasyPrint until a document is made."""

from __future__ import annotations

import http.server
import io
import subprocess
import sys
import threading

from pypdf import PdfReader

from clinicdesk.core.pdf import html_to_pdf

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { font-family: sans-serif; } h1 { font-size: 18pt; }</style></head>
<body><h1>Prescription</h1><p>José Müller-Łukasiewicz · Amoxicillin 500 mg</p>
<img src="{tracker}" alt="">
<img alt="" src="data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg'/>">
</body></html>"""


class _Counting(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


async def test_a_page_becomes_a_pdf_whose_text_reads_back_and_nothing_is_fetched() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tracker = f"http://127.0.0.1:{server.server_port}/tracker.png"
        pdf = await html_to_pdf(
            PAGE.replace("{tracker}", tracker),
            stylesheet=f"@page {{ size: A5; margin: 1cm; }} body {{ background: url({tracker}) }}",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert _Counting.hits == 0
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Prescription" in text
    assert "José Müller-Łukasiewicz" in text
    assert "Amoxicillin 500 mg" in text
    width_pt = float(reader.pages[0].mediabox.width)
    assert abs(width_pt - 419.5) < 1  # A5 from the stylesheet


def test_the_server_starts_without_weasyprint() -> None:
    code = "import sys, clinicdesk.app; sys.exit('weasyprint' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert done.returncode == 0, "clinicdesk.app imported WeasyPrint at start-up"
