"""pytest fixtures for anything that calls the LLM gateway; loaded by the root conftest.py.

    def test_reply(fake_llm, workspace):
        fake_llm.provider(workspace, kind="openai")          # default provider → the fake server
        fake_llm.queue(Reply.structured({"reply": "Hi!"}))
        ...
        assert fake_llm.requests[-1].last_user_text == "hello"
"""

import pytest

from testing.fake_llm import FakeLLMServer


@pytest.fixture
def fake_llm(settings):
    """A running FakeLLMServer, stopped after the test. Retry backoff is shortened to keep tests fast."""
    settings.LLM_RETRY_BASE_DELAY = 0.01
    settings.LLM_RETRY_MAX_DELAY = 0.5
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm_workspace(db):
    """A workspace with one admin and one setter (`.admin_user`, `.setter_user` attributes)."""
    from accounts.models import Role
    from accounts.tests.factories import MembershipFactory, WorkspaceFactory

    workspace = WorkspaceFactory()
    workspace.admin_user = MembershipFactory(workspace=workspace, role=Role.ADMIN).user
    workspace.setter_user = MembershipFactory(workspace=workspace, role=Role.SETTER).user
    return workspace
