"""Sample knowledge for a fictional studio, a labelled question set, and PDF builders for tests.

`build_pdf` draws real PDFs (text layer, several pages) with reportlab, so tests, the sample PDF
and the benchmark exercise the same pypdf extraction as an uploaded file; `encrypt_pdf` locks one
with pypdf.
"""

from __future__ import annotations

import io
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent


def build_pdf(pages: list[list[str]], *, compress: bool = True) -> bytes:
    """A PDF with one page per item; each string is a line of Helvetica text.

    An empty list of lines makes a page without any text (like a scanned page without OCR).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=int(compress), invariant=1)
    for lines in pages:
        text = pdf.beginText(56, 790)
        text.setFont("Helvetica", 11, leading=14)
        for line in lines:
            text.textLine(line)
        if lines:
            pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypt_pdf(content: bytes, *, user_password: str = "secret") -> bytes:  # noqa: S107 - test fixture
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content)))
    writer.encrypt(user_password=user_password, owner_password=user_password + "-owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
