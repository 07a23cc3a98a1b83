"""How Sidekick turns its evidence into one confidence figure in 0.0–1.0.

    confidence = clamp(0.55 * self_rating + 0.25 * retrieval_support + 0.20 * reviewer) - penalties

- self_rating: the drafting model's own confidence (0–1), which models over-state, so it carries
  just over half the weight.
- retrieval_support: how well the knowledge base backs the reply: 1.0 when the reply cites a chunk
  that retrieval ranked highly, lower for weaker or no support (0.5 for small talk that needs none).
- reviewer: the overseer reviewer's verdict: approve 1.0, rewrite 0.6 (the rewritten text is sent
  only if the rest still clears the threshold), veto 0.0; without a reviewer pass, 0.5.
- penalties: the sum of the non-blocking rule hits (e.g. prompt-injection attempts, 0.3).

A blocking rule hit forces the decision to escalate whatever the figure; the figure is still
stored so a setter can see how close the draft came. Every part is kept for the explanation panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WEIGHTS = {"self_rating": 0.55, "retrieval_support": 0.25, "reviewer": 0.20}
REVIEWER_SCORES = {"approve": 1.0, "rewrite": 0.6, "veto": 0.0, None: 0.5}


@dataclass(frozen=True)
class Confidence:
    value: float
    parts: dict = field(default_factory=dict)


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def combine(*, self_rating: float, retrieval_support: float, reviewer_verdict: str | None,
            penalties: list[float] | None = None) -> Confidence:
    if reviewer_verdict not in REVIEWER_SCORES:
        raise ValueError(f"unknown reviewer verdict {reviewer_verdict!r}")
    parts = {
        "self_rating": _clamp(float(self_rating)),
        "retrieval_support": _clamp(float(retrieval_support)),
        "reviewer": REVIEWER_SCORES[reviewer_verdict],
    }
    weighted = sum(WEIGHTS[name] * value for name, value in parts.items())
    penalty = sum(penalties or [])
    value = round(_clamp(weighted - penalty), 4)
    return Confidence(value=value, parts={**parts, "weights": WEIGHTS, "penalty": penalty, "value": value})


def should_auto_send(*, confidence: float, threshold: float, blocking_hits: int) -> bool:
    """Auto-send only at or above the threshold and with no blocking rule; never below."""
    return blocking_hits == 0 and confidence >= threshold
