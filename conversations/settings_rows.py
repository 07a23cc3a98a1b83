"""The workspace's Sidekick settings row, created on first use: the first reply or the first change.

Apart from `services` so the reply engine can create it without importing the dashboard's services
(which start follow-ups, and so import the engine).
"""

from conversations.models import SidekickSettings


def sidekick_settings_ensure(*, workspace) -> SidekickSettings:
    """The row, created with the defaults if missing. Safe under concurrency: the one-to-one constraint
    decides, get_or_create re-reads on a conflict. Reads use `selectors.sidekick_settings_for`."""
    found, _ = SidekickSettings.objects.get_or_create(workspace=workspace)
    return found
