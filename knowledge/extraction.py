"""Turn uploaded bytes into structured text blocks, or explain clearly why not.

Every rejection is an :class:`IngestionError` whose message is shown on the document as is, so it
is written for the admin who uploaded the file, not for a developer.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from knowledge.models import DocumentKind

logger = logging.getLogger(__name__)

EXTENSIONS = {".pdf": DocumentKind.PDF, ".txt": DocumentKind.TEXT, ".text": DocumentKind.TEXT,
              ".md": DocumentKind.MARKDOWN, ".markdown": DocumentKind.MARKDOWN}
SUPPORTED_HINT = "upload a PDF, a plain-text (.txt) or a Markdown (.md) file"
# A PDF with less text than this (non-space characters, whole document) has no usable text layer.
_MIN_PDF_TEXT = 20


class IngestionError(Exception):
    """The file cannot be indexed; the message is for the person who uploaded it."""


@dataclass(frozen=True)
class Block:
    """A paragraph of text with where it came from."""

    text: str
    page: int | None = None
    section: str = ""


@dataclass(frozen=True)
class Extracted:
    kind: str
    blocks: list[Block]
    page_count: int | None = None


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def detect_kind(*, filename: str, head: bytes) -> str:
    """The document kind from the extension, confirmed by the content; raises IngestionError."""
    name = filename.lower()
    extension = name[name.rfind("."):] if "." in name else ""
    kind = EXTENSIONS.get(extension)
    if kind is None:
        shown = extension or "(no extension)"
        raise IngestionError(f"Unsupported file type {shown}: {SUPPORTED_HINT}.")
    looks_pdf = head.lstrip()[:5] == b"%PDF-"
    if kind == DocumentKind.PDF and not looks_pdf:
        raise IngestionError("This file is named .pdf but is not a PDF; export it again as PDF.")
    if kind != DocumentKind.PDF and (looks_pdf or b"\x00" in head):
        raise IngestionError(f"This file is named {extension} but contains binary data; {SUPPORTED_HINT}.")
    return kind


def extract(*, kind: str, content: bytes, on_page: Callable[[int, int], None] | None = None) -> Extracted:
    if not content.strip():
        raise IngestionError("The file is empty.")
    if kind == DocumentKind.PDF:
        return _extract_pdf(content, on_page=on_page)
    text = _decode(content)
    if not text.strip():
        raise IngestionError("The file is empty (it contains only whitespace).")
    blocks = markdown_blocks(text) if kind == DocumentKind.MARKDOWN else text_blocks(text)
    return Extracted(kind=kind, blocks=blocks)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError:
        raise IngestionError("The text is not UTF-8 encoded; save it as UTF-8 and upload it again.") from None


def _extract_pdf(content: bytes, *, on_page) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            # Owner-password-only PDFs open with an empty user password; anything else is locked.
            try:
                if not reader.decrypt(""):
                    raise IngestionError(_ENCRYPTED)
            except (FileNotDecryptedError, NotImplementedError):
                raise IngestionError(_ENCRYPTED) from None
        pages = reader.pages
        total = len(pages)
        if total == 0:
            raise IngestionError("The PDF has no pages.")
        blocks: list[Block] = []
        characters = 0
        section = ""
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            characters += len(re.sub(r"\s", "", text))
            page_blocks, section = _page_blocks(text, page=number, section=section)
            blocks.extend(page_blocks)
            if on_page is not None:
                on_page(number, total)
    except IngestionError:
        raise
    except FileNotDecryptedError:
        raise IngestionError(_ENCRYPTED) from None
    except (PdfReadError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        logger.info("unreadable PDF: %s", exc)
        raise IngestionError("This PDF is damaged or not readable; export it again and re-upload.") from None
    if characters < _MIN_PDF_TEXT:
        raise IngestionError(
            "This PDF has no text layer (it looks like scanned images). Text recognition (OCR) is not "
            "supported: export the original document as PDF, or upload its text."
        )
    return Extracted(kind=DocumentKind.PDF, blocks=blocks, page_count=total)


_ENCRYPTED = "This PDF is password-protected. Remove the password (print or export it again) and re-upload."

_HEADING_MAX = 80
_TERMINAL = tuple(".,;:!?)\"'»”")
_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*([-*•+]|\d+[.)])\s+")


def _looks_like_heading(line: str) -> bool:
    line = line.strip()
    return (
        0 < len(line) <= _HEADING_MAX
        and not line.endswith(_TERMINAL)
        and line[0].isupper()
        and not _BULLET.match(line)
        and len(line.split()) <= 10
    )


def _page_blocks(text: str, *, page: int, section: str) -> tuple[list[Block], str]:
    """Paragraphs of one PDF page. pypdf rarely emits blank lines, so lines are re-joined: a line
    continues the previous one unless the previous ends a sentence or this one is a heading/bullet."""
    blocks: list[Block] = []
    current: list[str] = []

    def flush():
        if current:
            blocks.append(Block(text=" ".join(current).strip(), page=page, section=section))
            current.clear()

    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if not line:
            flush()
            continue
        next_line = next((candidate for candidate in lines[index + 1:] if candidate), "")
        if _looks_like_heading(line) and next_line and not current:
            flush()
            section = line
            continue
        if _BULLET.match(line) and current:
            flush()
        current.append(line)
        if line.endswith((".", "!", "?")) and len(" ".join(current)) > 300:
            flush()
    flush()
    return blocks, section


def _paragraphs(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def markdown_blocks(text: str) -> list[Block]:
    """Blocks with a heading path ("Pricing › Memberships") from ATX and setext headings."""
    blocks: list[Block] = []
    headings: list[tuple[int, str]] = []
    paragraph: list[str] = []
    in_fence = False

    def section() -> str:
        return " › ".join(title for _, title in headings)

    def flush():
        if paragraph:
            body = "\n".join(paragraph).strip()
            if body:
                blocks.append(Block(text=body, section=section()))
            paragraph.clear()

    def push_heading(level: int, title: str):
        flush()
        while headings and headings[-1][0] >= level:
            headings.pop()
        headings.append((level, title.strip()))

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        if in_fence:
            paragraph.append(line)
            continue
        match = _ATX.match(stripped)
        if match:
            push_heading(len(match.group(1)), match.group(2))
            continue
        if paragraph and len(paragraph) == 1 and stripped and set(stripped) <= {"="} and len(stripped) >= 3:
            title = paragraph.pop()
            push_heading(1, title)
            continue
        if paragraph and len(paragraph) == 1 and stripped and set(stripped) <= {"-"} and len(stripped) >= 3:
            title = paragraph.pop()
            push_heading(2, title)
            continue
        if not stripped:
            flush()
            continue
        paragraph.append(line.rstrip())
    flush()
    return blocks


def text_blocks(text: str) -> list[Block]:
    """Paragraphs split on blank lines; a short single-line paragraph that looks like a title starts
    a section."""
    blocks: list[Block] = []
    section = ""
    paragraphs = _paragraphs(text)
    for index, paragraph in enumerate(paragraphs):
        if "\n" not in paragraph and _looks_like_heading(paragraph) and index + 1 < len(paragraphs):
            section = paragraph
            continue
        blocks.append(Block(text=paragraph, section=section))
    return blocks
