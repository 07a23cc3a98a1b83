from celery import shared_task

from conversations import sending


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



@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def sweep_replies() -> dict:
    """Beat, every minute: re-enqueue replies lost with Redis or a worker; hand interrupted runs to a human."""
    from conversations.pipeline.sweep import replies_sweep

    return replies_sweep()


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def notify_escalation(escalation_id: int) -> int:
    from conversations.notifications import escalation_notify

    return escalation_notify(escalation_id=escalation_id)
