"""Parse and check structured model output against the JSON Schema the caller gave.

Validation is the `jsonschema` library's (Draft 2020-12); this module only turns its verdict into
one `SchemaViolation` that names the place (`$.sources[1]: ...`) for the repair prompt and the log.
"""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class SchemaViolation(ValueError):
    pass


def parse_json_object(text: str) -> dict:
    """The JSON object in `text`, tolerating a Markdown code fence around it (common with local models)."""
    match = _FENCE.match(text or "")
    candidate = match.group(1) if match else (text or "")
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise SchemaViolation(f"output is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise SchemaViolation(f"output is JSON but not an object (got {type(value).__name__})")
    return value


def validate(value, schema: dict) -> None:
    """Raise SchemaViolation naming the most relevant place where `value` breaks `schema`."""
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    if error is not None:
        raise SchemaViolation(f"{error.json_path}: {error.message}")
