"""Thin tasks: take ids, call services. Idempotent, so acks_late + reject_on_worker_lost are safe."""

from celery import shared_task

from integrations import services


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=120, soft_time_limit=100)
def process_webhook_event(event_id: int) -> None:
    services.webhook_event_process(event_id=event_id)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=280, soft_time_limit=260)
def process_webhook_events(event_ids: list[int]) -> None:
    """A batch from the web process's relay; each event is claimed on its own."""
    for event_id in event_ids:
        services.webhook_event_process(event_id=event_id)


@shared_task(ignore_result=True, time_limit=55, soft_time_limit=50)
def sweep_channels() -> dict:
    """Every minute: nothing Redis or a worker dropped stays dropped."""
    from conversations.sending import outbound_messages_sweep

    return {"events": services.webhook_events_sweep(), "sends": outbound_messages_sweep()}


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=240)
def refresh_instagram_tokens() -> int:
    """Fan out one refresh per Instagram channel whose token nears expiry."""
    ids = list(services.channels_needing_token_refresh().values_list("pk", flat=True))
    for channel_id in ids:
        refresh_instagram_token.delay(channel_id)
    return len(ids)


@shared_task(ignore_result=True, acks_late=True, time_limit=60, soft_time_limit=50)
def refresh_instagram_token(channel_id: int) -> None:
    services.channel_refresh_instagram_token(channel_id=channel_id)
