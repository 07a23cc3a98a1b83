"""Deterministic features of a message's text, stored with the message (`Message.text_features`).

Postgres computes them when a row is written or its text changes (a stored generated column), so a
report over a million messages reads a small integer instead of running four regular expressions per
message (BENCHMARKS.md, "Insights report"). They depend on the text alone; features that need other
rows (the contact's name, the response delay) are computed by the report.

Changing a pattern here changes the column's expression: `makemigrations` then writes the migration
that recomputes it for every message (the CI's `makemigrations --check` fails until it exists).
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan

# Scheduling links: the tools teams send to book a call.
BOOKING_LINK_RE = (r"(calendly\.com|cal\.com/|savvycal\.com|acuityscheduling\.com|tidycal\.com|youcanbook\.me|"
                   r"zcal\.co|hubspot\.com/meetings|meetings\.hubspot\.com|calendar\.app\.google|oncehub\.com)")
LINK_RE = r"(https?://|www\.)"
# A currency sign or amount, or a word about price (English and Spanish, the workspace languages so far).
PRICE_RE = r"([$€£]|\m(price|prices|pricing|cost|costs|fee|fees|rate|rates|precio|precios|tarifa|cuesta)\M)"
# Pictographs, symbols and dingbats, flags.
EMOJI_RE = "[\U0001F300-\U0001FAFF\u2600-\u27BF\U0001F1E6-\U0001F1FF]"

# Length bands in characters: short up to SHORT_MAX, medium up to MEDIUM_MAX, long above.
SHORT_MAX, MEDIUM_MAX = 80, 240

# The bits of `text_features`.
QUESTION, LINK, BOOKING_LINK, PRICE, EMOJI, MEDIUM, LONG = 1, 2, 4, 8, 16, 32, 64


def _bit(condition: Q, bit: int) -> Case:
    return Case(When(condition, then=Value(bit)), default=Value(0), output_field=IntegerField())


def text_features_expression():
    """The generated column's expression: the sum of the bits above for `text` (NULL never: text is NOT NULL)."""
    return (_bit(Q(text__contains="?"), QUESTION)
            + _bit(Q(text__iregex=LINK_RE), LINK)
            + _bit(Q(text__iregex=BOOKING_LINK_RE), BOOKING_LINK)
            + _bit(Q(text__iregex=PRICE_RE), PRICE)
            + _bit(Q(text__regex=EMOJI_RE), EMOJI)
            + Case(When(GreaterThan(Length("text"), MEDIUM_MAX), then=Value(LONG)),
                   When(GreaterThan(Length("text"), SHORT_MAX), then=Value(MEDIUM)),
                   default=Value(0), output_field=IntegerField()))
