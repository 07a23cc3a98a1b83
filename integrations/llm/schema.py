"""Parse and check structured model output against the JSON Schema the caller gave.

A deliberately small validator (no new dependency) for the subset structured-output schemas use:
type (incl. lists of types and "null"), properties, required, additionalProperties: false, enum,
const, items, minimum/maximum, minLength/maxLength, minItems/maxItems. Unknown keywords are ignored.
"""

from __future__ import annotations

import json
import re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
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


def validate(value, schema: dict, path: str = "$") -> None:
    """Raise SchemaViolation naming the first place where `value` breaks `schema`."""
    expected = schema.get("type")
    if expected is not None:
        types = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES.get(t, lambda v: True)(value) for t in types):
            raise SchemaViolation(f"{path}: expected {'/'.join(types)}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaViolation(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        raise SchemaViolation(f"{path}: must be {schema['const']!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                raise SchemaViolation(f"{path}: missing required property {name!r}")
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(properties))
            if extra:
                raise SchemaViolation(f"{path}: unexpected properties {extra!r}")
        for name, sub in properties.items():
            if name in value and isinstance(sub, dict):
                validate(value[name], sub, f"{path}.{name}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise SchemaViolation(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaViolation(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                validate(item, schema["items"], f"{path}[{index}]")
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise SchemaViolation(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaViolation(f"{path}: longer than {schema['maxLength']} characters")
    elif _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaViolation(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaViolation(f"{path}: {value} is above {schema['maximum']}")
