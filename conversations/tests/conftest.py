import pytest

from conversations.tests.pipeline_fixtures import *  # noqa: F403
from integrations.tests.fixtures import *  # noqa: F403


@pytest.fixture
def sandbox(settings, monkeypatch):
    """META_SANDBOX on, tasks run in-process: sends go through the real code to the Graph stand-in."""
    from integrations.meta import client as graph
    from sidekick_project.celery import app

    settings.META_SANDBOX = True
    monkeypatch.setattr(graph, "_session", None)  # remount with the sandbox adapter
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield settings
    app.conf.task_always_eager = previous
    graph._session = None
