from integrations.tests.fixtures import *  # noqa: F403
