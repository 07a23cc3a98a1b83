"""Plain-language display of what the engine records as numbers and dicts (no developer text in the UI)."""

from __future__ import annotations

from django import template

register = template.Library()

# The parts of a draft's confidence, in the order they are shown, with what they mean to a setter.
PART_LABELS = {
    "evidence": "Backed by your knowledge or the conversation",
    "self_rating": "The model's own certainty",
    "model": "The model's own certainty",
    "retrieval": "How well the sources match",
    "faq_similarity": "How close the FAQ question is",
    "reviewer": "The second model's review",
}
EVIDENCE_LABELS = {
    "source": "a cited source from your knowledge",
    "conversational": "the conversation itself (no facts needed)",
    "none": "nothing: no source supports it",
}


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@register.filter
def confidence_bars(parts) -> list[dict]:
    """The numeric parts as labelled bars: [{"label", "value" (0..1), "percent"}], known parts first,
    then any other number the engine recorded (labelled from its key). Totals and details are left out."""
    if not isinstance(parts, dict):
        return []
    keys = [k for k in PART_LABELS if k in parts] + sorted(
        k for k in parts if k not in PART_LABELS and k not in {"value", "penalty"})
    bars = []
    for key in keys:
        value = _number(parts.get(key))
        if value is None:
            continue
        value = min(max(value, 0.0), 1.0)
        label = PART_LABELS.get(key) or key.replace("_", " ").capitalize()
        bars.append({"label": label, "value": value, "percent": round(value * 100)})
    return bars


@register.filter
def confidence_penalty(parts) -> int:
    """Points (of 100) the rules took off, 0 when none."""
    value = _number(parts.get("penalty")) if isinstance(parts, dict) else None
    return round(value * 100) if value else 0


@register.filter
def evidence_label(parts) -> str:
    if not isinstance(parts, dict):
        return ""
    return EVIDENCE_LABELS.get(parts.get("evidence_kind"), "")
