"""Text normalisation shared by the inbound screen, the overseer's hard rules and the outbound checks.

People (and models) dodge filters with look-alike letters (Cyrillic "о" for "o"), zero-width
characters, s p a c e d or s.t.o.p letters, stretched letters ("stoooop") and leetspeak ("st0p").
`skeleton()` undoes the letter tricks; `match_forms()` gives the few word forms a phrase rule is
tried against, so one pattern written in plain words catches every disguise of it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from confusable_homoglyphs import categories, confusables

_SPACES = re.compile(r"\s+")
# Characters people put between letters to slip past filters ("s.t.o.p", "b-i-t-c-o-i-n").
_JOINERS = re.compile(r"(?<=\w)[.\-_*·•|](?=\w)")
_PUNCT = re.compile(r"[^\w\s]")
_CONFUSABLES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# Invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi controls, the
# Mongolian vowel separator and the invisible operators.
ZERO_WIDTH = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_REPEATS = re.compile(r"([a-z])\1+")
_SINGLE_LETTER_RUN = re.compile(r"(?:(?<= )|^)((?:[a-z0-9] ){2,}[a-z0-9])(?= |$)")
_CHAT_LETTERS = frozenset("ruaiyoe")


@lru_cache(maxsize=4096)
def _latin_of(char: str) -> str:
    """The Latin letter a non-Latin character is confused with ('о' Cyrillic -> 'o'), else the character."""
    if categories.alias(char) in ("LATIN", "COMMON"):
        return char
    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=True) or []
    for entry in found:
        for glyph in entry.get("homoglyphs", []):
            if glyph["c"].isascii() and glyph["c"].isalnum():
                return glyph["c"]
    return char


def skeleton(text: str) -> str:
    """NFKC, invisible characters removed, look-alike letters mapped to Latin ones (other scripts kept)."""
    text = ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text or ""))
    if text.isascii():
        return text
    return "".join(_latin_of(ch) if not ch.isascii() and ch.isalpha() else ch for ch in text)


def fold(text: str) -> str:
    """Skeleton, lower-case, strip accents, unify quotes and spaces: 'Café  ÉTÉ' -> 'cafe ete'."""
    text = unicodedata.normalize("NFKD", skeleton(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("ß", "ss").casefold()
    return _SPACES.sub(" ", text).strip()


def _words_of(folded: str, *, join: bool = True) -> str:
    folded = _JOINERS.sub("" if join else " ", folded)
    return " " + _SPACES.sub(" ", _PUNCT.sub(" ", folded)).strip() + " "


def words(text: str, *, join: bool = True) -> str:
    """fold(), then punctuation to spaces: the form phrase rules match against, padded for boundaries.

    `join`: dots and hyphens inside a word are dropped ("s.t.o.p" -> "stop", "sui-cide" -> "suicide");
    without it they separate words ("laissez-moi" -> "laissez moi", "Geld-zurück" -> "geld zuruck")."""
    return _words_of(fold(text), join=join)


def words_deobfuscated(text: str) -> str:
    """words() with digit/symbol look-alikes mapped to letters ('fr33 b1tc0in' -> 'free bitcoin')."""
    return _words_of(fold(text).translate(_CONFUSABLES))


def squeeze(form: str) -> str:
    """Runs of one letter to one letter ('stoooop' -> 'stop'); patterns are squeezed the same way."""
    return _REPEATS.sub(r"\1", form)


def join_spaced(form: str, *, keep_chat_words: bool = False) -> str:
    """Runs of three or more single letters joined into a word (' s t o p ' -> ' stop ').

    `keep_chat_words`: the one-letter words of chat and of Romance languages ("r u a", "y", "o") that
    open a run stay words, so ' r u a b o t ' -> ' r u a bot ' (joined in full it reads ' ruabot ')."""
    def join(match: re.Match) -> str:
        letters = match.group(1).split(" ")
        kept = []
        while keep_chat_words and len(letters) > 3 and letters[0] in _CHAT_LETTERS:
            kept.append(letters.pop(0))
        return " ".join([*kept, "".join(letters)])

    return _SINGLE_LETTER_RUN.sub(join, form)


def match_forms(text: str) -> tuple[str, ...]:
    """The distinct word forms a phrase rule is tried against: plain, de-leeted, hyphenated words
    apart (when there are any), single letters joined.

    Each form is padded with spaces (see words()); callers match squeezed patterns against
    squeeze(form) for the stretched-letter variants.
    """
    folded = fold(text)  # the costly step (a pass per character), done once
    forms = [_words_of(folded), _words_of(folded.translate(_CONFUSABLES))]
    if _JOINERS.search(folded):
        forms.append(_words_of(folded, join=False))
    if any(_SINGLE_LETTER_RUN.search(f) for f in forms):
        forms += [join_spaced(f, keep_chat_words=keep) for f in forms for keep in (False, True)]
    return tuple(dict.fromkeys(forms))


def has_invisible(text: str) -> bool:
    return bool(ZERO_WIDTH.search(text or ""))


def mixed_script_tokens(text: str) -> list[str]:
    """Words that mix letters of two scripts ('pаypal' with a Cyrillic 'а'): a classic look-alike trick."""
    found = []
    for token in re.findall(r"\w+", unicodedata.normalize("NFKC", text or "")):
        scripts = {categories.alias(ch) for ch in token if ch.isalpha()}
        scripts.discard("COMMON")
        if len(scripts) > 1:
            found.append(token)
    return found
