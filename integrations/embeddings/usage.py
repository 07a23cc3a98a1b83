"""The seam where embedding usage is recorded.

Every successful embedding call made for a workspace passes through :func:`embedding_usage_record`.
Today it only logs; the LLM gateway (``integrations/llm``) owns token accounting and quotas, and
this function is the single place to connect it (e.g. call the gateway's usage recorder with
``kind="embedding"``). Keep the signature stable so callers in ``knowledge`` need no change.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def embedding_usage_record(*, workspace_id: int, provider: str, model: str, texts: int,
                           input_tokens: int | None, purpose: str) -> None:
    """Record one embedding call. ``purpose`` is ``ingest`` (chunks) or ``query`` (retrieval)."""
    logger.debug(
        "embedding usage workspace=%s provider=%s model=%s texts=%s tokens=%s purpose=%s",
        workspace_id, provider, model, texts, input_tokens, purpose,
    )
