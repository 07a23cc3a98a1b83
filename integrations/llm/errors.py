"""What the gateway raises. Callers branch on the class and on `LLMError.kind` / `.permanent`.

    LLMGatewayError
    ├── NoProviderConfigured   the workspace has no default provider (→ FAQ-only mode)
    ├── QuotaExceeded          a token limit is reached; no call was made
    └── LLMError               the provider call failed (kind, permanent)
        └── LLMOutputError     the call succeeded but the structured output is unusable (repairable)

Messages never contain an API key: they pass through `scrub()` first.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from integrations.crypto import mask

if TYPE_CHECKING:
    from integrations.llm.base import LLMResult


class LLMGatewayError(Exception):
    """Base class of everything llm_complete raises on purpose."""


class NoProviderConfigured(LLMGatewayError):
    def __init__(self, workspace, user=None):
        self.workspace = workspace
        self.user = user
        super().__init__(f"Workspace {workspace.slug!r} has no default LLM provider configured.")


class QuotaExceeded(LLMGatewayError):
    """A daily or monthly token limit is reached; the provider was not called."""

    def __init__(self, *, scope: str, period: str, limit: int, used: int, resets_at: datetime, workspace, role=None):
        self.scope = scope  # "user" (the caller's role limit) or "workspace" (the workspace total)
        self.period = period  # "day" or "month"
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.workspace = workspace
        self.role = role
        who = f"{role} (per user)" if scope == "user" else "the workspace"
        super().__init__(
            f"The {'daily' if period == 'day' else 'monthly'} LLM token limit for {who} in "
            f"{workspace.slug!r} is reached: {used:,} of {limit:,} tokens used. "
            f"It resets at {resets_at:%Y-%m-%d %H:%M %Z}."
        )


class ErrorKind:
    AUTH = "auth"  # 401/403: bad or revoked key
    BILLING = "billing"  # 402, or a 429 that means "out of credit"
    RATE_LIMIT = "rate_limit"  # 429
    TIMEOUT = "timeout"  # no answer within the timeout (or 408)
    CONNECTION = "connection"  # refused, reset, DNS
    SERVER = "server"  # 5xx, 529 overloaded
    BAD_REQUEST = "bad_request"  # 400/413/422: our request is wrong (too long, bad params)
    NOT_FOUND = "not_found"  # 404: unknown model, deployment or path
    BAD_RESPONSE = "bad_response"  # the provider's response body is not what its API promises
    CONFIG = "config"  # the provider row cannot build a client
    INVALID_OUTPUT = "invalid_output"  # the model's structured output is missing, not JSON or off-schema

    TRANSIENT = frozenset({RATE_LIMIT, TIMEOUT, CONNECTION, SERVER, BAD_RESPONSE})


class LLMError(LLMGatewayError):
    """A failed provider call. `permanent` means retrying the same request cannot help."""

    def __init__(self, message: str, *, kind: str, permanent: bool | None = None, status: int | None = None,
                 retry_after: float | None = None):
        self.kind = kind
        self.permanent = kind not in ErrorKind.TRANSIENT if permanent is None else permanent
        self.status = status
        self.retry_after = retry_after
        self.message = message
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        return not self.permanent

    def __repr__(self):
        return f"{type(self).__name__}(kind={self.kind!r}, permanent={self.permanent}, message={self.message!r})"


class LLMOutputError(LLMError):
    """The model answered, but not with usable structured output.

    `result` carries the answer (text, tokens) and `raw` what the model produced, so the caller can
    ask once for a repair. Tokens were spent and are recorded.
    """

    def __init__(self, message: str, *, raw: str, result: LLMResult | None = None):
        super().__init__(message, kind=ErrorKind.INVALID_OUTPUT, permanent=True)
        self.raw = raw
        self.result = result


# Shapes of keys that providers echo back in error bodies ("Incorrect API key provided: sk-...").
_KEY_PATTERNS = re.compile(r"\b(sk-[A-Za-z0-9_\-*.]{6,}|sk-ant-[A-Za-z0-9_\-]{6,}|[A-Fa-f0-9]{32})\b")


def scrub(text: str, *secrets: str | None, limit: int = 300) -> str:
    """Remove secrets and anything key-shaped from a message, then cap its length."""
    text = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            # Repeat: overlapping occurrences ("abcd…abcd…abcd") can re-form the secret once.
            for _ in range(8):
                if secret not in text:
                    break
                text = text.replace(secret, mask(secret))
    text = _KEY_PATTERNS.sub(lambda m: mask(m.group(0)), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
