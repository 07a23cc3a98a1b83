"""Fixtures for knowledge tests: workspaces, eager Celery, and a fake embeddings endpoint.

The fake sits at the HTTP boundary (``responses``), so the real openai_compatible client runs. Its
vectors are a hashed bag of word stems: texts sharing words are close, which is enough to test
ranking, fusion and isolation deterministically.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import pytest
import responses

FAKE_BASE_URL = "http://embeddings.test/v1"
FAKE_MODEL = "fake-embed"
FAKE_DIM = 32


def fake_vector(text: str, dim: int = FAKE_DIM) -> list[float]:
    vector = [0.0] * dim
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        stem = word[:5]
        digest = hashlib.sha256(stem.encode()).digest()
        vector[digest[0] % dim] += 1.0 if digest[1] % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector] if any(vector) else [1.0] + [0.0] * (dim - 1)


class FakeEmbeddings:
    def __init__(self, mock: responses.RequestsMock):
        self.mock = mock
        self.calls = 0
        self.texts = 0
        self.status = 200
        self.dimension = FAKE_DIM
        mock.add_callback(responses.POST, f"{FAKE_BASE_URL}/embeddings", callback=self._answer)

    def _answer(self, request):
        self.calls += 1
        if self.status != 200:
            return self.status, {}, json.dumps({"error": {"message": "fake failure"}})
        body = json.loads(request.body)
        self.texts += len(body["input"])
        data = [{"index": i, "embedding": fake_vector(text, self.dimension)} for i, text in enumerate(body["input"])]
        data.reverse()  # providers may answer out of order; the client sorts by index
        return 200, {}, json.dumps({"data": data, "model": body["model"],
                                    "usage": {"prompt_tokens": 3 * len(body["input"])}})


@pytest.fixture
def eager_celery():
    from sidekick_project.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def run_tasks(eager_celery, django_capture_on_commit_callbacks):
    """Context manager: on-commit callbacks (task enqueues) run, and tasks run eagerly, on exit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def fake_embeddings():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeEmbeddings(mock)


def use_fake_embeddings(workspace, dimension: int = FAKE_DIM):
    from knowledge.models import KnowledgeSettings

    KnowledgeSettings.objects.update_or_create(workspace=workspace, defaults={
        "embedding_provider": "openai_compatible", "embedding_model": FAKE_MODEL, "embedding_dimension": dimension,
        "embedding_base_url": FAKE_BASE_URL, "embedding_api_key": "sk-test-key-123456", "fts_language": "english",
    })
