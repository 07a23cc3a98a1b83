"""Estimated prices in USD per million tokens (input, output), for the usage ledger.

List prices as published by the providers (checked 2026); the ledger's cost is an estimate for
budgeting, not an invoice. Lookup is by the longest matching prefix of the model name, so dated
snapshots ("claude-sonnet-4-5-20250929") find their entry, and a model newer than this table finds
its family's entry ("claude-sonnet", "gpt-5"); update the table when providers change prices. Unknown models use the fallback from settings
(LLM_FALLBACK_INPUT_USD_PER_MTOK / LLM_FALLBACK_OUTPUT_USD_PER_MTOK); Ollama runs locally and costs 0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

PRICES_USD_PER_MTOK: dict[str, tuple[str, str]] = {
    # Anthropic
    "claude-opus": ("5", "25"),
    "claude-sonnet": ("3", "15"),
    "claude-haiku": ("1", "5"),
    "claude-opus-4-8": ("5", "25"),
    "claude-opus-4-7": ("5", "25"),
    "claude-opus-4-6": ("5", "25"),
    "claude-opus-4-5": ("5", "25"),
    "claude-opus-4-1": ("15", "75"),
    "claude-opus-4": ("15", "75"),
    "claude-sonnet-4": ("3", "15"),
    "claude-3-7-sonnet": ("3", "15"),
    "claude-3-5-sonnet": ("3", "15"),
    "claude-haiku-4-5": ("1", "5"),
    "claude-3-5-haiku": ("0.80", "4"),
    "claude-3-haiku": ("0.25", "1.25"),
    # OpenAI (Azure deployments are named by the customer and usually fall back)
    "gpt-5-nano": ("0.05", "0.40"),
    "gpt-5-mini": ("0.25", "2"),
    "gpt-5": ("1.25", "10"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1": ("2", "8"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4o": ("2.50", "10"),
    "o4-mini": ("1.10", "4.40"),
    "o3-mini": ("1.10", "4.40"),
    "o3": ("2", "8"),
}
# Embedding models: input tokens only (OpenAI list prices). Unknown embedding models cost 0 in the
# ledger rather than the chat fallback, which would overstate them by two orders of magnitude.
EMBEDDING_PRICES_USD_PER_MTOK: dict[str, str] = {
    "text-embedding-3-small": "0.02",
    "text-embedding-3-large": "0.13",
    "text-embedding-ada-002": "0.10",
}
FREE_KINDS = {"ollama"}
_MILLION = Decimal(1_000_000)
_PLACES = Decimal("0.000001")


def price_for(*, kind: str, model: str) -> tuple[Decimal, Decimal]:
    """(input, output) USD per million tokens for this model."""
    if kind in FREE_KINDS:
        return Decimal(0), Decimal(0)
    name = model.lower().strip()
    matches = [prefix for prefix in PRICES_USD_PER_MTOK if name.startswith(prefix)]
    if matches:
        prices = PRICES_USD_PER_MTOK[max(matches, key=len)]
        return Decimal(prices[0]), Decimal(prices[1])
    return (Decimal(str(settings.LLM_FALLBACK_INPUT_USD_PER_MTOK)),
            Decimal(str(settings.LLM_FALLBACK_OUTPUT_USD_PER_MTOK)))


def estimate_cost(*, kind: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
    input_price, output_price = price_for(kind=kind, model=model)
    cost = (input_price * input_tokens + output_price * output_tokens) / _MILLION
    return cost.quantize(_PLACES, rounding=ROUND_HALF_UP)


def estimate_embedding_cost(*, model: str, input_tokens: int) -> Decimal:
    """Cost of embedding `input_tokens` with `model`; 0 for models not in the table (self-hosted, Azure)."""
    name = model.lower().strip()
    matches = [prefix for prefix in EMBEDDING_PRICES_USD_PER_MTOK if name.startswith(prefix)]
    if not matches:
        return Decimal(0)
    price = Decimal(EMBEDDING_PRICES_USD_PER_MTOK[max(matches, key=len)])
    return (price * input_tokens / _MILLION).quantize(_PLACES, rounding=ROUND_HALF_UP)
