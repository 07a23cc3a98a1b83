"""The audit log's details as readable fields (label: value), never a JSON or dict dump."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def readable_fields(data) -> list[tuple[str, str]]:
    """A JSON object as (label, value) pairs: keys become words, lists are joined, nested objects are
    flattened one level ("Changes · threshold"), empty values say "—"."""
    if not isinstance(data, dict):
        return [("Details", str(data))] if data not in (None, "", [], {}) else []
    rows = []
    for key, value in data.items():
        label = str(key).replace("_", " ").capitalize()
        if isinstance(value, dict):
            for sub, inner in value.items():
                rows.append((f"{label} · {str(sub).replace('_', ' ')}", _plain(inner)))
        else:
            rows.append((label, _plain(value)))
    return rows


def _plain(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    return str(value)


@register.filter
def verb_label(verb: str) -> str:
    """"sidekick.prompt_revised" → "Sidekick: prompt revised"."""
    area, _, action = str(verb).partition(".")
    if not action:
        return area.replace("_", " ").capitalize()
    return f"{area.replace('_', ' ').capitalize()}: {action.replace('_', ' ')}"
