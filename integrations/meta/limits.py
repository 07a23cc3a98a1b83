"""Platform limits on outbound text and the 24-hour messaging window. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

MESSENGER_MAX_CHARS = 1999  # "under 2000 characters"
INSTAGRAM_MAX_BYTES = 1000  # "at most 1000 bytes of UTF-8"
ELLIPSIS = "…"

# A sentence ends with . ! ? … (optionally closed by quotes/brackets) followed by whitespace, or at a
# line break.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)|\n")

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def _fits(text: str, platform: str) -> bool:
    if platform == "instagram":
        return len(text.encode("utf-8")) <= INSTAGRAM_MAX_BYTES
    return len(text) <= MESSENGER_MAX_CHARS


def _longest_prefix(text: str, platform: str, reserve: int = 0) -> int:
    """Length in characters of the longest prefix of ``text`` that fits the limit minus ``reserve``."""
    if platform != "instagram":
        return min(len(text), MESSENGER_MAX_CHARS - reserve)
    used = 0
    for index, char in enumerate(text):
        used += len(char.encode("utf-8"))
        if used > INSTAGRAM_MAX_BYTES - reserve:
            return index
    return len(text)


def fit_text(text: str, platform: str) -> str:
    """``text`` cut to the platform limit, at the last sentence end that fits.

    Falls back to the last word boundary (with an ellipsis) when no sentence ends in the second half
    of the allowance, and to a hard cut (with an ellipsis) for one enormous word.
    """
    text = text.strip()
    if _fits(text, platform):
        return text
    limit = _longest_prefix(text, platform)
    window = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends and ends[-1] >= limit // 2:
        return window[:ends[-1]].rstrip()
    reserve = len(ELLIPSIS.encode()) if platform == "instagram" else len(ELLIPSIS)
    budget = _longest_prefix(text, platform, reserve)
    cut = text[:budget]
    space = cut.rfind(" ")
    if space >= budget // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Window:
    allowed: bool
    tag: str | None = None  # "HUMAN_AGENT" when the message must be tagged
    reason: str = ""


def send_window(*, platform: str, last_inbound_at: datetime | None, now: datetime, human: bool,
                human_agent_enabled: bool) -> Window:
    """May a message be sent now, and how?

    Automated messages: only within 24 h of the contact's last message. A human (a setter's own
    words) may answer on Messenger between 24 h and 7 d with the HUMAN_AGENT tag when the Page has
    that permission. Nothing else opens the window; echoes never do.
    """
    if last_inbound_at is None:
        return Window(False, reason="the contact has never written")
    age = now - last_inbound_at
    if age <= STANDARD_WINDOW:
        return Window(True)
    if human and platform == "messenger" and human_agent_enabled and age <= HUMAN_AGENT_WINDOW:
        return Window(True, tag="HUMAN_AGENT")
    if human and platform == "messenger" and age <= HUMAN_AGENT_WINDOW:
        return Window(False, reason="24-hour window closed; the Page lacks the Human Agent permission")
    return Window(False, reason="messaging window closed")
