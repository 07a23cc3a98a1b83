"""The finalizer: what a DM can carry. Instagram and Messenger show plain text, so model markup
(Markdown, HTML, code fences, role prefixes, stray JSON) is turned into plain words."""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\n?(.*?)```", re.S)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_BULLET = re.compile(r"^\s*[*+]\s+", re.M)
_TAG = re.compile(r"</?[a-zA-Z][^>\n]{0,200}>")
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|sidekick|ai|bot|reply|response)\s*:\s*", re.I)
_BLANKS = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")


def plain_text(text: str) -> str:
    text = (text or "").replace("\r\n", "\n")
    text = _FENCE.sub(lambda m: m.group(1).strip(), text)
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
    text = _BOLD.sub(r"\2", text)
    text = _ITALIC.sub(r"\1", text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("• ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _ROLE_PREFIX.sub("", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip().strip('"').strip()
