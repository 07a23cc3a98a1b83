import pytest

from integrations.llm.models import LLMQuotaPolicy


@pytest.fixture
def policy(llm_workspace):
    """Limits low enough to reach in a test: per role per day and month, and for the workspace."""
    return LLMQuotaPolicy.objects.create(
        workspace=llm_workspace, setter_daily=1000, setter_monthly=5000, admin_daily=3000, admin_monthly=9000,
        workspace_daily=10_000, workspace_monthly=50_000,
    )
