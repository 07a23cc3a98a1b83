from celery import shared_task

from contacts import services


@shared_task(ignore_result=True, acks_late=True, time_limit=60, soft_time_limit=45)
def fetch_contact_profile(contact_id: int) -> None:
    services.contact_fetch_profile(contact_id=contact_id)


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=240)
def purge_expired_lead_memory() -> None:
    """Daily (beat): delete lead memory past its 90-day retention."""
    services.lead_memory_purge_expired()
