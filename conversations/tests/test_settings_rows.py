"""Reading the Sidekick settings never writes; the row appears on first use through the service."""

import pytest

from accounts.tests.factories import WorkspaceFactory
from conversations.models import SidekickSettings
from conversations.selectors import sidekick_settings_for
from conversations.settings_rows import sidekick_settings_ensure

pytestmark = pytest.mark.django_db


def test_the_selector_reads_defaults_without_creating_the_row():
    workspace = WorkspaceFactory()
    cfg = sidekick_settings_for(workspace=workspace)
    assert cfg.pk is None and cfg.enabled and cfg.debounce_seconds == 4
    assert not SidekickSettings.objects.filter(workspace=workspace).exists()
    created = sidekick_settings_ensure(workspace=workspace)
    assert created.pk is not None and sidekick_settings_ensure(workspace=workspace).pk == created.pk
    assert sidekick_settings_for(workspace=workspace).pk == created.pk
