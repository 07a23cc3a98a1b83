"""The Celery app and the whole beat schedule.

Each periodic task carries `expires` of about 1.5x its interval so a backlog after an outage never
runs the same job several times.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick_project.settings")

app = Celery("sidekick")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.task_routes = {
    "integrations.tasks.process_webhook_event": {"queue": "intake"},
    "conversations.tasks.*": {"queue": "llm"},
}

HOUR = 60 * 60
app.conf.beat_schedule = {
    "purge-expired-invitations": {
        "task": "accounts.tasks.purge_expired_invitations",
        "schedule": crontab(minute=17, hour=3),
        "options": {"expires": 36 * HOUR},
    },
}
