"""One backoff policy for every retry loop: exponential, capped, with jitter.

Used by the LLM gateway (between provider attempts), the Graph client and its OAuth calls (between
HTTP attempts) and outbound sends (between sweeper retries), which each had their own copy.
"""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: str = "full") -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    The window doubles per attempt from ``base`` up to ``cap``. "full" jitter draws from the whole
    window (retries of many clients spread out best); "equal" draws from its upper half (a floor for
    retries that must not come back too soon, such as a send Meta refused a moment ago).
    """
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return random.uniform(ceiling / 2 if jitter == "equal" else 0.0, ceiling)
