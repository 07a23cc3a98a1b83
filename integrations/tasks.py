"""Thin tasks: take ids, call services. Idempotent, so acks_late + reject_on_worker_lost are safe."""

from celery import shared_task

from integrations import services


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
