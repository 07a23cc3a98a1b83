"""Redaction of personal details in lead memory shown to setters.

Setters see what they need to sell (preferences, availability, objections), not contact details:
emails, phone numbers, street addresses, card and bank numbers are replaced by labels. Admins see
the original text.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"(?<![\d+])\d(?:[ .-]?\d){12,18}\b")  # grouped by spaces, dashes or dots
# As people type them too: "de89 3704 0044 0532 0130 00".
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
# Phone numbers: optional +country, then 7+ digits with spaces, dots, dashes or brackets between.
_PHONE = re.compile(r"(?<![\w(])(?:\+|00)?\(?\d(?:[\s().-]{0,2}\d){6,14}(?![\w])")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$")
_STREET_WORDS = (
    r"street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|square|sq|"
    r"calle|avenida|rue|chemin|strasse|straße|str|weg|platz|via|viale|rua|travessa"
)
_ADDRESS = re.compile(
    # "12 rue de la Paix": number, street word, then the name (over-redacting a word is fine).
    rf"\b\d{{1,5}},?\s+(?:{_STREET_WORDS})\s+(?:[\w'’.-]+(?:\s|$)){{1,4}}"
    # "221B Baker Street"
    rf"|\b\d{{1,5}}[a-zA-Z]?,?\s+(?:[A-ZÀ-ÿa-z][\w'’.-]*\s+){{0,4}}(?:{_STREET_WORDS})\b\.?"
    # "Calle Mayor 12", "Hauptstraße 5"
    rf"|\b(?:{_STREET_WORDS})\.?\s+(?:[A-ZÀ-ÿa-z][\w'’.-]*\s+){{0,4}}\d{{1,5}}[a-zA-Z]?\b",
    re.IGNORECASE,
)
_POSTCODE_UK = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")


def redact(text: str) -> str:
    if not text:
        return text or ""
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub("[bank account]", text)
    text = _CARD.sub(lambda m: "[card]" if _luhn_ok(m.group()) else m.group(), text)
    text = _ADDRESS.sub(lambda m: "[address]" + (" " if m.group().endswith((" ", "\n")) else ""), text)
    text = _POSTCODE_UK.sub("[postcode]", text)
    text = _PHONE.sub(lambda m: m.group() if _DATE.match(m.group().strip()) else "[phone]", text)
    return text


def _luhn_ok(candidate: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", candidate)]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
