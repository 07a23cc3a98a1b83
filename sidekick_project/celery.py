"""The Celery app and the whole beat schedule.

Each periodic task carries `expires` of about 1.5x its interval so a backlog after an outage never
runs the same job several times.
"""

import gc
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun, worker_ready

from sidekick_project.broker import share_redis_client

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick_project.settings")

app = Celery("sidekick")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
share_redis_client()

app.conf.task_routes = {
    "conversations.tasks.process_webhook_event": {"queue": "intake"},
    "conversations.tasks.process_webhook_events": {"queue": "intake"},
    "integrations.tasks.process_webhook_event": {"queue": "intake"},  # old names, see conversations.tasks
    "integrations.tasks.process_webhook_events": {"queue": "intake"},
    # Exact names win over the glob below: a send is a quick HTTP call, not an LLM job.
    "conversations.tasks.send_message": {"queue": "default"},
    "conversations.tasks.sweep_replies": {"queue": "default"},
    "conversations.tasks.sweep_channels": {"queue": "default"},
    "conversations.tasks.notify_escalation": {"queue": "default"},
    "conversations.tasks.*": {"queue": "llm"},
    "assistant.tasks.assistant_answers_sweep": {"queue": "default"},  # one UPDATE, no model call
    "assistant.tasks.*": {"queue": "llm"},
    "evals.tasks.eval_runs_fail_stale": {"queue": "default"},  # one UPDATE, no model call
    "evals.tasks.weekly_evals": {"queue": "default"},  # the fan-out: a few reads and enqueues
    "evals.tasks.*": {"queue": "llm"},
}

MINUTE = 60
HOUR = 60 * MINUTE
app.conf.beat_schedule = {
    "purge-expired-invitations": {
        "task": "accounts.tasks.purge_expired_invitations",
        "schedule": crontab(minute=17, hour=3),
        "options": {"expires": 36 * HOUR},
    },
    # Re-enqueue webhook events and sends left pending (Redis outage, lost task), settle dead claims.
    # Expires before the next run: a delayed sweep is simply superseded by the next one.
    "sweep-channels": {
        "task": "conversations.tasks.sweep_channels",
        "schedule": MINUTE,
        "options": {"expires": 0.9 * MINUTE},
    },
    # Replies whose job was lost (broker down, worker killed) and drafts interrupted mid-run.
    "sweep-replies": {
        "task": "conversations.tasks.sweep_replies",
        "schedule": MINUTE,
        "options": {"expires": 0.9 * MINUTE},
    },
    # Timed follow-up sequences: each due step drafted once (its run row is the claim), sent or left for review.
    "sweep-follow-ups": {
        "task": "conversations.tasks.sweep_follow_ups",
        "schedule": MINUTE,
        "options": {"expires": 0.9 * MINUTE},
    },
    # Instagram user tokens live 60 days; refresh them well ahead of expiry.
    "refresh-instagram-tokens": {
        "task": "integrations.tasks.refresh_instagram_tokens",
        "schedule": crontab(minute=41, hour="*/6"),
        "options": {"expires": 9 * HOUR},
    },
    # Lead memory is kept 90 days (privacy); purge what expired.
    "purge-expired-lead-memory": {
        "task": "contacts.tasks.purge_expired_lead_memory",
        "schedule": crontab(minute=23, hour=4),
        "options": {"expires": 36 * HOUR},
    },
    # Re-enqueue knowledge ingestions lost with a worker, and embeddings a provider outage left pending.
    "knowledge-sweep": {
        "task": "knowledge.tasks.knowledge_sweep",
        "schedule": 5 * 60,
        "options": {"expires": 7 * 60},
    },
    # The weekly insights report (opt-in per workspace): a fan-out that enqueues one report task per
    # opted-in workspace, each expiring after 6 h (insights.weekly).
    "insights-weekly-reports": {
        "task": "insights.weekly.weekly_reports",
        "schedule": crontab(minute=0, hour=6, day_of_week="mon"),
        "options": {"expires": 6 * HOUR},
    },
    # The insights message facts of each workspace that keeps them, brought up to date with the changes
    # logged since the last refresh, so a report reads them instead of relabelling (insights.facts).
    "insights-facts-refresh": {
        "task": "insights.tasks.facts_refresh_due",
        "schedule": 5 * 60,
        "options": {"expires": 4 * 60},
    },
    # Reports whose worker died mid-run are marked failed (they never look complete).
    "insights-fail-stale-reports": {
        "task": "insights.weekly.fail_stale_reports",
        "schedule": crontab(minute=11),
        "options": {"expires": 0.9 * HOUR},
    },
    # Weekly evals (opt-in per workspace, separate from the report's): a fan-out enqueuing one eval
    # task per opted-in workspace, each expiring after 6 h (evals.weekly), the day after the report.
    "evals-weekly-runs": {
        "task": "evals.tasks.weekly_evals",
        "schedule": crontab(minute=0, hour=7, day_of_week="tue"),
        "options": {"expires": 6 * HOUR},
    },
    # Eval runs whose worker died mid-run are marked failed (their scored cases stay).
    "evals-fail-stale-runs": {
        "task": "evals.tasks.eval_runs_fail_stale",
        "schedule": crontab(minute=13),
        "options": {"expires": 0.9 * HOUR},
    },
    # Assistant answers whose worker died (or whose job was lost) are marked failed, keeping what arrived.
    "assistant-answers-sweep": {
        "task": "assistant.tasks.assistant_answers_sweep",
        "schedule": MINUTE,
        "options": {"expires": 0.9 * MINUTE},
    },
    # Privacy requests: re-enqueue lost or abandoned ones, delete export files past their expiry.
    "privacy-sweep": {
        "task": "privacy.tasks.privacy_requests_sweep",
        "schedule": 5 * 60,
        "options": {"expires": 7 * 60},
    },
}

# Import the reply pipeline, the LLM SDKs (anthropic, openai: several seconds of pydantic model
# building) and retrieval when a worker starts, not inside its first tasks: there the import held
# the GIL for seconds while every other thread of the pool waited (about 23% of a worker's GIL time
# in the first 20 s of bench/pipeline.py's throughput run, py-spy --gil).
app.conf.imports = ("conversations.pipeline.engine", "conversations.sending",
                    # Not found by autodiscovery (which imports each app's tasks.py only).
                    "insights.weekly")


@worker_ready.connect
def _freeze_startup_objects(**_kwargs) -> None:
    """Move everything built while starting (Django, models, SDKs, the pipeline) out of the collector's
    reach: the cyclic GC no longer re-walks those objects on each full collection during tasks."""
    gc.collect()
    gc.freeze()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(task=None, **_kwargs) -> None:
    """What Django does around a request: drop this thread's connection if it is broken or older than
    CONN_MAX_AGE, keep it otherwise (see CELERY_DB_REUSE_MAX in settings)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
