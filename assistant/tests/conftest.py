import pytest

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
