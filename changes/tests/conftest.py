import pytest

from contacts.tests.factories import ContactFactory
from integrations.tests.fixtures import *  # noqa: F403


@pytest.fixture
def contact(workspace):
    return ContactFactory(channel__workspace=workspace)
