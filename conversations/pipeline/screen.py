"""The inbound screen: what a contact wrote, checked before any model sees it, in six languages.

Independent of drafting and of the workspace language: every message is screened in English,
Spanish, Portuguese, French, German and Italian, after undoing the usual disguises (see
`text.match_forms`: look-alike letters, zero-width characters, s p a c e d and s.t.o.p letters,
stretched letters, leetspeak).

Categories, most serious first (what the pipeline does with each is in engine.py):

    crisis          self-harm, suicide, a medical emergency, abuse      urgent escalation, no reply
    threat          threats of violence                                 urgent escalation, no reply
    legal           lawyers, suing, chargebacks, data-protection asks   escalation, no reply
    opt_out         stop, unsubscribe, take me off, leave me alone      contact opted out, no reply
    human_request   a human, a manager, "are you a bot", call me         escalation, no reply
    injection       attempts to change or reveal the assistant's rules  escalation, no model call
    sensitive       a word of danger, violence or the law that no        drafted for a person, never sent
                    precise phrase above caught

The phrases themselves are data, in `screen_phrases.py`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache

from conversations.pipeline.screen_phrases import ALONE, FILLERS, MARKUP_INJECTION, PATTERNS, SENSITIVE
from conversations.pipeline.text import match_forms, skeleton, squeeze

LANGUAGES = ("en", "es", "pt", "fr", "de", "it")
CATEGORIES = ("crisis", "threat", "legal", "opt_out", "human_request", "injection", "sensitive")
URGENT = frozenset({"crisis", "threat"})

@dataclass(frozen=True)
class ScreenHit:
    category: str
    language: str
    matched: str

    def as_dict(self) -> dict:
        return {"category": self.category, "language": self.language, "matched": self.matched}


def _union(patterns) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_COMPILING = threading.Lock()
_ALONE_SQUEEZED = {category: {squeeze(p) for p in phrases} for category, phrases in ALONE.items()}


@cache
def _compiled() -> dict[str, tuple[re.Pattern, re.Pattern]]:
    """Per category: every language's patterns in one regex, plain and squeezed (about a second to
    build: done once per process, under a lock so a pool of threads does not build it a hundred times
    at once; workers build it at start, see conversations.tasks)."""
    with _COMPILING:
        return _compiled_unlocked()


@cache
def _compiled_unlocked() -> dict[str, tuple[re.Pattern, re.Pattern]]:
    return {category: (_union(p for ps in by_language.values() for p in ps),
                       _union(squeeze(p) for ps in by_language.values() for p in ps))
            for category, by_language in {**PATTERNS, "sensitive": SENSITIVE}.items()}


@cache
def _by_language(category: str) -> list[tuple[str, re.Pattern, re.Pattern]]:
    """Each language's patterns of a category, to name the language of a hit (built on the first hit)."""
    by_language = {**PATTERNS, "sensitive": SENSITIVE}[category]
    return [(code, _union(patterns), _union(squeeze(p) for p in patterns)) for code, patterns in by_language.items()]


def _alone(category: str, form: str) -> str:
    tokens = [t for t in form.split() if t not in FILLERS]
    if not tokens or len(tokens) > 3:
        return ""
    phrase = " ".join(tokens)
    return phrase if phrase in ALONE[category] or squeeze(phrase) in _ALONE_SQUEEZED[category] else ""


def screen(text: str) -> list[ScreenHit]:
    """Every category the text falls in (at most one hit per category), most serious first."""
    if not (text or "").strip():
        return []
    forms = match_forms(text)
    squeezed = tuple(squeeze(f) for f in forms)
    hits = []
    for category in CATEGORIES:
        hit = None
        any_language, any_language_squeezed = _compiled()[category]
        if any(any_language.search(f) or any_language_squeezed.search(s) for f, s in zip(forms, squeezed, strict=True)):
            for code, pattern, pattern_squeezed in _by_language(category):
                for form, form_squeezed in zip(forms, squeezed, strict=True):
                    match = pattern.search(form) or pattern_squeezed.search(form_squeezed)
                    if match:
                        hit = ScreenHit(category, code, match.group(0).strip())
                        break
                if hit:
                    break
        if hit is None and category in ALONE:
            for form in forms:
                phrase = _alone(category, form)
                if phrase:
                    hit = ScreenHit(category, "any", phrase)
                    break
        if hit is None and category == "injection":
            match = MARKUP_INJECTION.search(skeleton(text))
            if match:
                hit = ScreenHit(category, "markup", match.group(0).strip()[:60])
        if hit:
            hits.append(hit)
    if len(hits) > 1 and hits[-1].category == "sensitive":
        hits.pop()  # a precise category said it already
    return hits


def categories_of(text: str) -> set[str]:
    return {hit.category for hit in screen(text)}
