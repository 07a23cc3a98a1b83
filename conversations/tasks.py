from celery import shared_task
from celery.signals import worker_ready

from conversations import intake, notifications, sending
from conversations.pipeline import sweep

# --- webhook events (the `intake` queue) ------------------------------------------------------------
# The web process's relay (`integrations.relay`) publishes these by name.

@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=120, soft_time_limit=100)
def process_webhook_event(event_id: int) -> None:
    intake.webhook_event_process(event_id=event_id)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=280, soft_time_limit=260)
def process_webhook_events(event_ids: list[int]) -> None:
    """A batch from the web process's relay; each event is claimed on its own."""
    for event_id in event_ids:
        intake.webhook_event_process(event_id=event_id)


# The names these two had before they moved here (integrations.tasks), for messages already in the
# broker when a deploy lands. The sweeper would re-enqueue their events anyway, 30 s later; the aliases
# spare that delay. Remove them one release after the move.
@shared_task(name="integrations.tasks.process_webhook_event", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, time_limit=120, soft_time_limit=100)
def process_webhook_event_old_name(event_id: int) -> None:
    intake.webhook_event_process(event_id=event_id)


@shared_task(name="integrations.tasks.process_webhook_events", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, time_limit=280, soft_time_limit=260)
def process_webhook_events_old_name(event_ids: list[int]) -> None:
    for event_id in event_ids:
        intake.webhook_event_process(event_id=event_id)


@shared_task(ignore_result=True, time_limit=55, soft_time_limit=50)
def sweep_channels() -> dict:
    """Beat, every minute: nothing Redis or a worker dropped stays dropped (webhook events, sends)."""
    return {"events": intake.webhook_events_sweep(), "sends": sending.outbound_messages_sweep()}


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def send_message(message_id: int) -> None:
    """Claims the row before any HTTP call, so a redelivered task is a no-op (see conversations.sending)."""
    sending.message_send(message_id=message_id)


# Runs on the `llm` queue (a thread pool: the work is waiting on the model). Idempotent: the draft
# row is the claim (see conversations.pipeline.engine), so redelivery after a crash is harmless.
@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=240, soft_time_limit=200)
def reply_to_message(message_id: int) -> None:
    from conversations.pipeline.engine import reply_pipeline_run

    reply_pipeline_run(message_id=message_id)


# Knowledge → "Test a question" (published by name from knowledge.question_trials). Not acks_late: a
# job lost with its worker only leaves the page waiting, which says so after a while (running it again
# would spend the tokens twice); a duplicate finds the trial claimed and does nothing.
@shared_task(ignore_result=True, time_limit=180, soft_time_limit=170)
def question_trial_run(trial_id: str) -> None:
    from conversations.question_trial import question_trial_run as run

    run(trial_id=trial_id)


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def sweep_replies() -> dict:
    """Beat, every minute: re-enqueue replies lost with Redis or a worker; hand interrupted runs to a human."""
    return sweep.replies_sweep()


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def notify_escalation(escalation_id: int) -> int:
    return notifications.escalation_notify(escalation_id=escalation_id)


@worker_ready.connect
def _compile_the_screen(**_kwargs) -> None:
    """Compile the inbound screen's phrase patterns (about half a second) when a worker starts, not in
    its first reply."""
    from conversations.pipeline.screen import screen

    screen("warm up")


@shared_task(ignore_result=True, time_limit=55, soft_time_limit=50)
def sweep_follow_ups() -> dict:
    """Beat, every minute: one step task per thread that may have a follow-up step due."""
    from conversations.pipeline.sequence import follow_ups_sweep

    return follow_ups_sweep()


# On the `llm` queue (drafting waits on the model). Idempotent: the step's run row is the claim.
@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=240, soft_time_limit=200)
def run_follow_up_step(thread_id: int) -> None:
    from conversations.pipeline.sequence import follow_up_step_run

    follow_up_step_run(thread_id=thread_id)
