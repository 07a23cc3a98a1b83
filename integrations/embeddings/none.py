"""The ``none`` provider: the workspace has no embeddings and retrieval is full-text only."""

from __future__ import annotations

from integrations.embeddings.base import EmbeddingError, EmbeddingResult


class NoEmbeddings:
    name = "none"
    model = ""
    dimension = 0
    max_batch = 1

    @property
    def enabled(self) -> bool:
        return False

    def embed(self, texts: list[str]) -> EmbeddingResult:
        raise EmbeddingError("embeddings are turned off for this workspace", permanent=True)
