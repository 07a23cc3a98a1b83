"""Secrets never survive scrubbing; the schema subset validator accepts and rejects what it should."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.llm.errors import scrub
from integrations.llm.schema import SchemaViolation, parse_json_object, validate

keys = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=60)
noise = st.text(max_size=80)


@given(key=keys, before=noise, after=noise, repeat=st.integers(1, 3))
def test_scrub_never_returns_the_secret(key, before, after, repeat):
    text = before + (key + after) * repeat
    assert key not in scrub(text, key, limit=10_000)


def test_scrub_removes_overlapping_occurrences():
    key = "abcd" + "x" * 10 + "abcd"  # masked, its last four characters could re-form the key
    assert key not in scrub(key + key[4:], key)


def test_scrub_masks_key_shaped_strings_it_was_not_told_about():
    message = "Incorrect API key provided: sk-proj-abcdefghijklmnop1234. You can find your key at ..."
    assert "sk-proj-abcdefghijklmnop1234" not in scrub(message)
    assert "1234" in scrub(message)


SCHEMA = {
    "type": "object",
    "properties": {
        "reply": {"type": "string", "minLength": 1, "maxLength": 20},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "lead_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "intent": {"type": "string", "enum": ["pricing", "booking", "other"]},
        "human_requested": {"type": "boolean"},
        "sources": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
        "note": {"type": ["string", "null"]},
    },
    "required": ["reply", "confidence", "human_requested"],
    "additionalProperties": False,
}
GOOD = {"reply": "Hi", "confidence": 0.9, "lead_score": 40, "intent": "pricing", "human_requested": False,
        "sources": [1, 2], "note": None}


def test_valid_output_passes():
    validate(GOOD, SCHEMA)
    validate({**GOOD, "lead_score": 40.0}, SCHEMA)  # 40.0 is an integer in JSON Schema


@pytest.mark.parametrize(("change", "where"), [
    ({"reply": ""}, "$.reply"),
    ({"reply": "x" * 21}, "$.reply"),
    ({"confidence": 1.5}, "$.confidence"),
    ({"confidence": "high"}, "$.confidence"),
    ({"lead_score": 4.5}, "$.lead_score"),
    ({"intent": "spam"}, "$.intent"),
    ({"human_requested": "no"}, "$.human_requested"),
    ({"human_requested": 0}, "$.human_requested"),
    ({"sources": [1, "a"]}, "$.sources[1]"),
    ({"sources": [1, 2, 3, 4]}, "$.sources"),
    ({"extra": 1}, "unexpected"),
    ({"confidence": True}, "$.confidence"),
])
def test_invalid_output_names_the_problem(change, where):
    with pytest.raises(SchemaViolation, match=where.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]")):
        validate({**GOOD, **change}, SCHEMA)


def test_missing_required_property():
    with pytest.raises(SchemaViolation, match="'confidence' is a required property"):
        validate({"reply": "Hi", "human_requested": True}, SCHEMA)


@pytest.mark.parametrize("text", ['{"a": 1', "[1, 2]", "Sure! {\"a\": 1}", ""])
def test_parse_rejects_non_objects(text):
    with pytest.raises(SchemaViolation):
        parse_json_object(text)


def test_parse_accepts_a_fenced_object():
    assert parse_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_object('  {"a": 1}  ') == {"a": 1}
