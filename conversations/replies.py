"""Scheduling the reply pipeline for a new inbound message (called by intake once the message commits)."""

from __future__ import annotations

from conversations.models import SidekickSettings
from sidekick_project.enqueue import task_enqueue

DEFAULT_DEBOUNCE = 4


def reply_enqueue(*, message_id: int, countdown: float | None = None) -> bool:
    """Schedule the reply pipeline for a new inbound message after the workspace's debounce.

    Every message of a burst is scheduled; the pipeline answers only the newest. A lost enqueue
    (broker down) is logged and picked up by the reply sweeper (`conversations.pipeline.sweep`).
    """
    from conversations.tasks import reply_to_message  # the task module imports the pipeline, which imports this

    if countdown is None:
        found = SidekickSettings.objects.filter(workspace__messages__pk=message_id).values_list(
            "debounce_seconds", flat=True).first()
        countdown = DEFAULT_DEBOUNCE if found is None else found
    return task_enqueue(reply_to_message, args=[message_id], countdown=countdown or None)
