"""Any OpenAI-compatible ``/embeddings`` endpoint: OpenAI, Azure OpenAI, Ollama, vLLM, LiteLLM.

``base_url`` is the API root that ``/embeddings`` is appended to, e.g. ``https://api.openai.com/v1``,
``http://localhost:11434/v1`` (Ollama) or ``https://NAME.openai.azure.com/openai/deployments/DEPLOY?api-version=2024-02-01``
(a query string is kept after ``/embeddings``; Azure hosts also get the ``api-key`` header).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import requests

from integrations.embeddings.base import EmbeddingError, EmbeddingResult, check_vectors

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def embeddings_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    path = parts.path.rstrip("/") + "/embeddings"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class OpenAICompatibleEmbeddings:
    name = "openai_compatible"

    def __init__(self, *, base_url: str, api_key: str, model: str, dimension: int, timeout: float = 30.0,
                 max_batch: int = 64, session: requests.Session | None = None):
        if not base_url or not model or dimension <= 0:
            raise EmbeddingError("openai_compatible needs a base URL, a model and a dimension", permanent=True)
        self.url = embeddings_url(base_url)
        self.api_key = api_key
        self.model = model
        self.dimension = dimension
        self.timeout = timeout
        self.max_batch = max_batch
        self.session = session or requests.Session()

    @property
    def enabled(self) -> bool:
        return True

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
            if (urlsplit(self.url).hostname or "").endswith(".azure.com"):
                headers["api-key"] = self.api_key
        return headers

    def embed(self, texts: list[str]) -> EmbeddingResult:
        if not texts:
            return EmbeddingResult(vectors=[], model=self.model, dimension=self.dimension, input_tokens=0)
        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        try:
            response = self.session.post(self.url, json=payload, headers=self._headers(), timeout=self.timeout)
        except requests.Timeout:
            raise EmbeddingError(f"embedding request to {self.url} timed out after {self.timeout:.0f}s",
                                 permanent=False) from None
        except requests.RequestException as exc:
            raise EmbeddingError(f"embedding request to {self.url} failed: {exc.__class__.__name__}",
                                 permanent=False) from None
        if response.status_code != 200:
            raise EmbeddingError(
                f"embedding endpoint answered {response.status_code}: {_error_detail(response)}",
                permanent=response.status_code not in _RETRYABLE_STATUS,
            )
        try:
            body = response.json()
            items = sorted(body["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError):
            raise EmbeddingError("embedding endpoint returned an unexpected body (no data[].embedding)",
                                 permanent=False) from None
        check_vectors(vectors, expected_count=len(texts), dimension=self.dimension, model=self.model)
        usage = body.get("usage") or {}
        tokens = usage.get("prompt_tokens", usage.get("total_tokens"))
        return EmbeddingResult(vectors=vectors, model=self.model, dimension=self.dimension,
                               input_tokens=int(tokens) if isinstance(tokens, int | float) else None)


def _error_detail(response: requests.Response) -> str:
    """The provider's own error message, short, never echoing request headers (the key)."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or response.reason or "no detail")[:300]
