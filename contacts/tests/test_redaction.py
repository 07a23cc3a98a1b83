import pytest

from contacts.redaction import redact


@pytest.mark.parametrize(("raw", "expected"), [
    ("Email me at Jane.Doe+yoga@example.co.uk please", "Email me at [email] please"),
    ("my number is +44 7700 900123", "my number is [phone]"),
    ("call (415) 555-0132 after 6", "call [phone] after 6"),
    ("WhatsApp 0034 612 34 56 78", "WhatsApp [phone]"),
    ("I live at 221B Baker Street, London", "I live at [address], London"),
    ("Calle Mayor 12, Madrid", "[address], Madrid"),
    ("12 rue de la Paix", "[address]"),
    ("Postcode NW1 6XE", "Postcode [postcode]"),
    ("card 4111 1111 1111 1111 exp 12/28", "card [card] exp 12/28"),
    ("IBAN GB33 BUKB 2020 1555 5555 55", "IBAN [bank account]"),
    ("iban gb33 bukb 2020 1555 5555 55", "iban [bank account]"),
    ("iban de89 3704 0044 0532 0130 00", "iban [bank account]"),
    ("card 4111.1111.1111.1111", "card [card]"),
])
def test_personal_details_are_redacted(raw, expected):
    assert redact(raw) == expected


@pytest.mark.parametrize("text", [
    "Prefers evening classes, 2 kids, budget around $150 a month",
    "Available Tuesday 18:30 or Friday 7am",
    "Wants the 10 class pack; objected to the 3 month commitment",
    "Booked for 2026-12-01",
])
def test_selling_details_stay(text):
    assert redact(text) == text
