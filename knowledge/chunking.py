"""Split extracted blocks into overlapping chunks that respect structure.

Rules: a chunk never spans two pages or two sections (so its citation is exact); paragraphs are
packed up to ``target`` characters; a paragraph longer than that is cut at sentence ends, then at
word boundaries; the next chunk of the same section starts with the last sentences (up to
``overlap`` characters) of the previous one.

``key`` is a hash of the chunk's page, section and text (plus an occurrence counter for repeated
text), not of its position: re-ingesting unchanged text yields the same keys, so existing rows,
ids and embeddings are kept.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from itertools import groupby

from knowledge.extraction import Block

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“(\[]?[A-Z0-9À-Ý])")


@dataclass(frozen=True)
class ChunkDraft:
    key: str
    position: int
    text: str
    context: str
    page: int | None
    section: str


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _pieces(paragraph: str, target: int) -> list[str]:
    """The paragraph itself, or sentence groups / word groups no longer than ``target``."""
    if len(paragraph) <= target:
        return [paragraph]
    pieces: list[str] = []
    for sentence in _sentences(paragraph):
        if len(sentence) <= target:
            pieces.append(sentence)
            continue
        words, line = sentence.split(), ""
        for word in words:
            if line and len(line) + 1 + len(word) > target:
                pieces.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            pieces.append(line)
    return pieces


def _tail(text: str, overlap: int) -> str:
    """The last whole sentences of ``text`` that fit in ``overlap`` characters ('' when none fit)."""
    if overlap <= 0:
        return ""
    tail: list[str] = []
    size = 0
    for sentence in reversed(_sentences(text.replace("\n", " "))):
        if size + len(sentence) + 1 > overlap:
            break
        tail.insert(0, sentence)
        size += len(sentence) + 1
    return " ".join(tail)


def chunk_blocks(blocks: list[Block], *, title: str, target: int, overlap: int) -> list[ChunkDraft]:
    texts: list[tuple[str, int | None, str]] = []
    for (page, section), group in groupby(blocks, key=lambda block: (block.page, block.section)):
        pieces = [piece for block in group for piece in _pieces(block.text, target)]
        current = ""
        carried = ""  # overlap text at the start of ``current``; a chunk of only that is not emitted
        for piece in pieces:
            joined = f"{current}\n\n{piece}" if current else piece
            if current and len(joined) > target and current != carried:
                texts.append((current, page, section))
                carried = _tail(current, overlap)
                if carried and len(carried) + 2 + len(piece) > target:
                    carried = ""
                current = f"{carried}\n\n{piece}" if carried else piece
            else:
                current = joined
        if current and current != carried:
            texts.append((current, page, section))
    seen: Counter = Counter()
    drafts = []
    for position, (text, page, section) in enumerate(texts):
        identity = f"{page}\x1f{section}\x1f{text}"
        seen[identity] += 1
        key = hashlib.sha256(f"{identity}\x1f{seen[identity]}".encode()).hexdigest()
        context = " › ".join(part for part in (title, section) if part)
        drafts.append(ChunkDraft(key=key, position=position, text=text, context=context, page=page,
                                 section=section[:500]))
    return drafts


def faq_chunk(*, question: str, answer: str) -> ChunkDraft:
    text = f"Q: {question.strip()}\nA: {answer.strip()}"
    return ChunkDraft(key=hashlib.sha256(text.encode()).hexdigest(), position=0, text=text, context="FAQ",
                      page=None, section=question.strip()[:500])
