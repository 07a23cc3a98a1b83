from celery import shared_task

from conversations import sending


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def send_message(message_id: int) -> None:
    """Claims the row before any HTTP call, so a redelivered task is a no-op (see conversations.sending)."""
    sending.message_send(message_id=message_id)
