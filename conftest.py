"""Suite-wide fixtures. Postgres and Redis are real; only the network edge is faked in tests."""

import pytest


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded services this test run started, so the suite leaves no process behind."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller owns the services
    from django.conf import settings

    started = getattr(settings, "EMBEDDED_STARTED", [])
    if not started:
        return
    from django.db import connections

    connections.close_all()
    from sidekick_project import embedded

    if "redis" in started:
        embedded.stop_redis(settings.VAR_DIR)
    if "postgres" in started:
        embedded.stop_postgres(settings.VAR_DIR)


@pytest.fixture
def user(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


# The fake LLM server fixture (`fake_llm`) for every app's tests and the golden suite.
pytest_plugins = ["integrations.llm.pytest_fixtures"]
