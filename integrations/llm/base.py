"""Types shared by the gateway and the provider adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypedDict


class Message(TypedDict):
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class ProviderConfig:
    """Everything an adapter needs to build a client; hashable, so clients can be cached by it.

    The key is excluded from repr so a logged or printed config never shows it.
    """

    kind: str
    model: str
    api_key: str = field(default="", repr=False)
    base_url: str = ""
    api_version: str = ""

    @classmethod
    def from_provider(cls, provider) -> ProviderConfig:
        return cls(kind=provider.kind, model=provider.model, api_key=provider.api_key or "",
                   base_url=provider.base_url or "", api_version=provider.api_version or "")


@dataclass(frozen=True)
class CallParams:
    system: str
    messages: list[Message]
    max_tokens: int
    temperature: float | None = None
    schema: dict | None = None
    schema_name: str = "respond"
    timeout: float = 30.0


@dataclass(frozen=True)
class Completion:
    """What an adapter returns for one successful HTTP exchange."""

    text: str
    parsed: dict | None
    input_tokens: int
    output_tokens: int
    model: str
    stop_reason: str | None
    raw_structured: str | None = None  # the structured output as the model sent it, for repair prompts


@dataclass(frozen=True)
class LLMResult:
    """The result of one llm_complete call (possibly after retries)."""

    text: str  # the model's text; for structured calls, the JSON it produced
    parsed: dict[str, Any] | None  # structured output validated against the schema; None without schema
    input_tokens: int
    output_tokens: int
    model: str  # as reported by the provider
    latency_ms: int  # wall time of the whole call, retries and backoff included
    stop_reason: str | None  # raw: end_turn / tool_use / max_tokens / stop / length / tool_calls ...
    provider_kind: str
    attempts: int = 1
    cost_usd: Decimal = Decimal(0)
    usage_id: int | None = None  # the LLMUsage row

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens
