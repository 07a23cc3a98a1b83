"""Text normalisation shared by the overseer's hard rules."""

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Characters people put between letters to slip past filters ("s.t.o.p", "b-i-t-c-o-i-n").
_JOINERS = re.compile(r"(?<=\w)[.\-_*·](?=\w)")
_PUNCT = re.compile(r"[^\w\s]")
_CONFUSABLES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})


def fold(text: str) -> str:
    """Lower-case, strip accents, unify quotes and spaces: 'Café  ÉTÉ' -> 'cafe ete'."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2019", "'").replace("\u2018", "'").casefold()
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> str:
    """fold(), then punctuation to spaces: the form phrase rules match against, padded for boundaries."""
    folded = _JOINERS.sub("", fold(text))
    return " " + _SPACES.sub(" ", _PUNCT.sub(" ", folded)).strip() + " "


def words_deobfuscated(text: str) -> str:
    """words() with digit/symbol look-alikes mapped to letters ('fr33 b1tc0in' -> 'free bitcoin')."""
    return words(fold(text).translate(_CONFUSABLES))
