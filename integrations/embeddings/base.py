"""The provider interface shared by every embedding backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Provider(StrEnum):
    NONE = "none"
    OPENAI_COMPATIBLE = "openai_compatible"
    LOCAL = "local"


class EmbeddingError(Exception):
    """An embedding call failed.

    ``permanent`` errors (bad key, unknown model, wrong dimension, local model not installed) will fail
    again on retry and should be shown to an admin; the others (timeouts, 429, 5xx) are worth retrying.
    """

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class EmbeddingConfig:
    provider: str
    model: str = ""
    dimension: int = 0
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    model: str
    dimension: int
    # Tokens billed by the provider when it reports them (openai_compatible); None otherwise.
    input_tokens: int | None = None


class EmbeddingProvider(Protocol):
    name: str
    model: str
    dimension: int
    max_batch: int

    @property
    def enabled(self) -> bool: ...

    def embed(self, texts: list[str]) -> EmbeddingResult:
        """Vectors for ``texts`` in order, each of length ``dimension``. Raises EmbeddingError."""
        ...


def check_vectors(vectors: list[list[float]], *, expected_count: int, dimension: int, model: str) -> None:
    if len(vectors) != expected_count:
        raise EmbeddingError(
            f"{model} returned {len(vectors)} vectors for {expected_count} texts", permanent=False
        )
    for vector in vectors:
        if len(vector) != dimension:
            raise EmbeddingError(
                f"{model} returned {len(vector)}-dimensional vectors but the workspace is configured for "
                f"{dimension}; fix the dimension in the knowledge settings",
                permanent=True,
            )
