"""The seam where embedding usage is recorded: the LLM gateway's ledger (`LLMUsage`).

Every successful embedding call made for a workspace passes through :func:`embedding_usage_record`.
Calls that reach a provider (``openai_compatible``: OpenAI, Azure, Ollama, vLLM...) become one
``LLMUsage`` row with purpose ``embedding``, the tokens the provider reported and an estimated cost
(`integrations.llm.pricing`). Embedding rows are left out of the token quotas (see
`integrations.llm.quotas.usage_totals`): a large upload must never use up the replies' budget.
The ``local`` provider runs on this machine, costs nothing and reports no tokens: it is only logged.
Keep the signature stable so callers in ``knowledge`` need no change.
"""

from __future__ import annotations

import logging

from django.utils import timezone

logger = logging.getLogger(__name__)

PURPOSE = "embedding"
# Embedding provider name -> LLM provider kind of the ledger; providers not listed are not recorded.
_LEDGER_KINDS = {"openai_compatible": "openai_compatible"}


def embedding_usage_record(*, workspace_id: int, provider: str, model: str, texts: int,
                           input_tokens: int | None, purpose: str) -> None:
    """Record one embedding call. ``purpose`` is ``ingest`` (chunks) or ``query`` (retrieval)."""
    from integrations.llm.models import LLMUsage, Outcome
    from integrations.llm.pricing import estimate_embedding_cost

    logger.debug(
        "embedding usage workspace=%s provider=%s model=%s texts=%s tokens=%s purpose=%s",
        workspace_id, provider, model, texts, input_tokens, purpose,
    )
    kind = _LEDGER_KINDS.get(provider)
    if kind is None:
        return
    tokens = max(0, int(input_tokens or 0))
    LLMUsage.objects.create(
        workspace_id=workspace_id, user=None, provider=None, purpose=PURPOSE, provider_kind=kind,
        model=model[:200], input_tokens=tokens, output_tokens=0,
        cost_usd=estimate_embedding_cost(model=model, input_tokens=tokens),
        attempts=1, outcome=Outcome.OK, created_at=timezone.now(),
    )
