from celery import shared_task

from accounts import services


@shared_task(ignore_result=True, acks_late=True, time_limit=120, soft_time_limit=100)
def purge_expired_invitations():
    return services.invitations_purge_expired()
