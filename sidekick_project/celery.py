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
    # Re-enqueue knowledge ingestions lost with a worker, and embeddings a provider outage left pending.
    "knowledge-sweep": {
        "task": "knowledge.tasks.knowledge_sweep",
        "schedule": 5 * 60,
        "options": {"expires": 7 * 60},
    },
}
