from conversations.tests.pipeline_fixtures import *  # noqa: F403
from integrations.tests.fixtures import *  # noqa: F403
