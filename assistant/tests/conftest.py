import threading

import pytest
from django.db import connection

from accounts.models import Role
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from sidekick_project.celery import app as celery_app


@pytest.fixture
def team(db):
    """A workspace with an admin and two setters, and another workspace with its own admin."""
    admin = AdminMembershipFactory()
    workspace = admin.workspace
    workspace.admin_user = admin.user
    workspace.setter_user = MembershipFactory(workspace=workspace, role=Role.SETTER).user
    workspace.other_setter = MembershipFactory(workspace=workspace, role=Role.SETTER).user
    workspace.stranger = AdminMembershipFactory().user  # admin of another workspace
    return workspace


def _reset_broker_pools():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def dead_broker(tmp_path):
    """Redis unreachable for publishing (as integrations/tests/test_outage.py does it)."""
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    _reset_broker_pools()
    yield
    celery_app.conf.broker_url = original
    _reset_broker_pools()


@pytest.fixture
def worker_thread(monkeypatch):
    """The `llm` worker as a thread, for browser tests: the views' enqueue runs the real task code (the
    answer, the suggestions) in a thread instead of publishing to Redis."""
    from assistant import services
    from assistant.answer import answer_write
    from assistant.suggest import suggestions_write

    threads = []
    tasks = {services.ANSWER_TASK: answer_write, services.SUGGEST_TASK: suggestions_write}

    def enqueue(task, *, args, **options):
        def run():
            try:
                tasks[task](message_id=args[0])
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        return True

    monkeypatch.setattr(services, "task_enqueue", enqueue)
    yield
    for thread in threads:
        thread.join(timeout=10)
