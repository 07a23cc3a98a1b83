"""The workspace's Sidekick settings row, created on first use: the first reply or the first change.

Apart from `services` so the reply engine can create it without importing the dashboard's services
(which start follow-ups, and so import the engine).
"""

from django.db import transaction

from conversations.models import FollowUpStep, SidekickSettings

# A new workspace's follow-up sequence, as (delay in hours after the business's unanswered message,
# Human Agent tag). Two nudges inside the 24-hour window; a third after 3 days that only a setter may
# send (Messenger with the Human Agent permission), enabled only where the workspace allows the tag.
DEFAULT_FOLLOW_UP_STEPS = ((4, False), (20, False), (72, True))


def sidekick_settings_ensure(*, workspace) -> SidekickSettings:
    """The row, created with the defaults if missing (and with it the default follow-up sequence). Safe
    under concurrency: the one-to-one constraint decides, get_or_create re-reads on a conflict. Reads
    use `selectors.sidekick_settings_for`."""
    with transaction.atomic():
        found, created = SidekickSettings.objects.get_or_create(workspace=workspace)
        if created and not FollowUpStep.objects.filter(workspace=workspace).exists():
            FollowUpStep.objects.bulk_create([
                FollowUpStep(workspace=workspace, position=n, delay_hours=hours, use_human_agent_tag=tag,
                             enabled=not tag or found.use_human_agent_tag)
                for n, (hours, tag) in enumerate(DEFAULT_FOLLOW_UP_STEPS, start=1)])
    return found
