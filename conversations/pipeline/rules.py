"""The overseer's hard rules: checks no model output can override.

Each check returns ``RuleHit`` objects. A blocking hit forbids automatic sending whatever the
confidence; a non-blocking hit lowers confidence by its penalty. What the contact wrote is screened
by `screen.py` (six languages whatever the workspace language, disguises undone); what Sidekick is
about to send by `outbound.py`. This module turns both into rule hits and holds the rules on the
moment (24-hour window, business hours) and the blacklist matcher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.pipeline import screen as inbound_screen
from conversations.pipeline.text import match_forms, squeeze, words

MESSAGING_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RuleHit:
    rule: str
    reason: str
    blocking: bool = True
    penalty: float = 0.0

    def as_dict(self) -> dict:
        return {"rule": self.rule, "reason": self.reason, "blocking": self.blocking, "penalty": self.penalty}


def _compile(patterns: list[str]) -> re.Pattern:
    # Patterns are written against words(): single spaces, padded with a space at both ends.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# --- Spam -----------------------------------------------------------------------------------------
_URL = re.compile(r"https?://|www\.", re.I)
_REPEAT = re.compile(r"(.)\1{15,}")
_SPAM_PHRASES = _compile([
    r" crypto (?:investment|opportunity|signals) ", r" guaranteed (?:profit|returns|income) ", r" click (?:the|this) link ",
    r" (?:earn|make) \d+ (?:dollars|usd|per day|a day|daily) ", r" free followers ", r" promote your (?:page|account|profile) ",
    r" collab(?:oration)? with (?:our|my) brand .* (?:dm|link) ", r" verify your account ", r" your account (?:will be|has been) (?:suspended|disabled)",
])


def is_opt_out(text: str, *, language: str = "en") -> bool:
    """The contact asks not to be messaged, in any of the six languages (`language` is not needed)."""
    return "opt_out" in inbound_screen.categories_of(text)


def wants_human(text: str, *, language: str = "en") -> bool:
    return "human_request" in inbound_screen.categories_of(text)


def looks_like_injection(text: str) -> bool:
    return "injection" in inbound_screen.categories_of(text)


def looks_like_spam(text: str) -> bool:
    raw = text or ""
    if len(_URL.findall(raw)) >= 3 or _REPEAT.search(raw):
        return True
    return bool(_SPAM_PHRASES.search(words(raw)))


def _stem(token: str) -> str:
    """A crude plural-folding stem, the same for a word's singular and plural in six languages: a final
    "s" goes, then a final "e" after a consonant ("refunds" -> "refund", "codes"/"code" -> "cod",
    "classes"/"class" -> "class", "devoluciones"/"devolucion" -> "devolucion")."""
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    if len(token) > 3 and token.endswith("e") and token[-2] not in "aeiouy":
        token = token[:-1]
    return token


@dataclass(frozen=True)
class _Tokens:
    """One word form of a text, prepared once for every blacklisted phrase (see `_phrase_in`)."""

    stems: list[str]
    stem_set: frozenset[str]
    joined: frozenset[str]  # the stem of every run of 1 to 4 consecutive words written as one word

    @classmethod
    def of(cls, tokens: list[str]) -> _Tokens:
        stems = [_stem(t) for t in tokens]
        joined = {_stem("".join(tokens[i:j])) for i in range(len(tokens)) for j in range(i + 1, min(len(tokens), i + 4) + 1)}
        return cls(stems, frozenset(stems), frozenset(joined))


def _phrase_in(needle: list[str], text: _Tokens) -> bool:
    """Whether the phrase's words stand in the text: in order, written as one word or hyphenated
    ("money back" ~ "moneyback" ~ "money-back"), or in any order within a few words of each other
    ("guarantee your money back" for "money back guarantee")."""
    # One word in the text for the whole phrase, or the phrase's one word split in the text.
    if _stem("".join(needle)) in text.joined:
        return True
    wanted = [_stem(t) for t in needle]
    if len(wanted) == 1:
        return wanted[0] in text.stem_set
    if not all(w in text.stem_set for w in wanted):
        return False
    window = len(wanted) + 2
    for start, stem in enumerate(text.stems):
        if stem in wanted:
            span = text.stems[start:start + window]
            if all(w in span for w in wanted):
                return True
    return False


def blacklisted_phrase(text: str, phrases: list[str]) -> str | None:
    """The first blacklisted phrase the text contains, or None.

    Case-, accent- and punctuation-insensitive, undoing look-alike letters, zero-width characters,
    leetspeak, spaced and stretched letters; plural forms, hyphenated or joined words and nearby
    reordering count too (see `_phrase_in`).
    """
    if not phrases:
        return None
    forms = match_forms(text)
    token_lists = [_Tokens.of(f.split()) for f in dict.fromkeys([*forms, *(squeeze(f) for f in forms)])]
    for phrase in phrases:
        needle = words(phrase).split()
        if not needle:
            continue
        squeezed = squeeze(" ".join(needle)).split()
        if any(_phrase_in(needle, tokens) or _phrase_in(squeezed, tokens) for tokens in token_lists):
            return phrase
    return None


# --- Business hours -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) in the workspace's time zone, and what they mean.

    policy: ``always`` (hours do not matter), ``within`` (auto-send only during opening hours) or
    ``outside`` (auto-send only when the team is away; humans answer during the day).
    """

    policy: str = "always"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    def is_open(self, moment: datetime, tz: str) -> bool:
        local = moment.astimezone(ZoneInfo(tz))
        return local.weekday() in self.days and self.opens <= local.time() < self.closes


# What each screen category does to a run: the rule code, whether it blocks, and its explanation.
SCREEN_RULES = {
    "crisis": "The contact may be in danger (self-harm, a medical emergency or abuse): a person must answer now.",
    "threat": "The message threatens violence: a person must look at it now.",
    "legal": "The message raises a legal matter (a lawyer, a claim, a chargeback or a data request).",
    "opt_out": "The contact asked not to be messaged.",
    "human_request": "The contact asked for a human.",
    "injection": "The message tries to change or reveal the assistant's instructions.",
    "sensitive": "The message touches danger, violence or the law: a person reads it before anything is sent.",
}
_SCREEN_CODES = {"human_request": "human_requested", "injection": "prompt_injection"}


def check_inbound(text: str, *, language: str = "en", blacklist: list[str] | None = None) -> list[RuleHit]:
    """Rules on what the contact wrote: the inbound screen's categories, the blacklist and spam.

    Every hit blocks automatic sending. `language` is kept for callers; the screen always reads
    all six languages.
    """
    hits = [RuleHit(_SCREEN_CODES.get(hit.category, hit.category),
                    f"{SCREEN_RULES[hit.category]} (matched {hit.matched!r})")
            for hit in inbound_screen.screen(text)]
    phrase = blacklisted_phrase(text, blacklist or [])
    if phrase:
        hits.append(RuleHit("blacklist", f"The message touches a blacklisted topic ({phrase!r})."))
    if looks_like_spam(text):
        hits.append(RuleHit("spam", "The message looks like spam."))
    return hits


def check_context(*, now: datetime, last_inbound_at: datetime | None, hours: BusinessHours, tz: str,
                  opted_out: bool = False) -> list[RuleHit]:
    """Rules on the moment and the contact's state."""
    hits = []
    if opted_out:
        hits.append(RuleHit("opt_out", "The contact has opted out."))
    if last_inbound_at is None or now - last_inbound_at >= MESSAGING_WINDOW:
        hits.append(RuleHit("window", "More than 24 hours since the contact's last message."))
    if hours.policy == "within" and not hours.is_open(now, tz):
        hits.append(RuleHit("business_hours", "Outside business hours; automatic replies are off."))
    elif hours.policy == "outside" and hours.is_open(now, tz):
        hits.append(RuleHit("business_hours", "During business hours the team answers in person."))
    return hits
