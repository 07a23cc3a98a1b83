import pytest

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory, WorkspaceFactory
from contacts.tests.factories import ContactFactory
from integrations.tests.fixtures import *  # noqa: F403


@pytest.fixture
def workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def admin(workspace):
    return AdminMembershipFactory(workspace=workspace).user


@pytest.fixture
def setter(workspace):
    return MembershipFactory(workspace=workspace).user


@pytest.fixture
def contact(workspace):
    return ContactFactory(channel__workspace=workspace)
