"""Test a question, the model's part: the answer Sidekick would give, drafted on the `llm` queue and
kept in the cache for a while under a random id bound to the workspace and the person who asked.

The page (knowledge.views) starts a trial: a pending record in the cache, then the drafting job,
published by name (`conversations.tasks.question_trial_run`: drafting is a layer above knowledge).
The job runs the real drafting pipeline, side-effect free, and writes its result into the same
record; the page polls it. No database row is written, except the gateway's usage ledger: the model
calls are real and count towards the person's quotas. Redis only carries work: when it cannot be
reached nothing runs, the page says so and still shows what retrieval found.
"""

from __future__ import annotations

import logging
import secrets
import time

from django.core.cache import cache

from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

TRIAL_TASK = "conversations.tasks.question_trial_run"
TRIAL_TTL = 3600  # seconds a result stays readable: long enough to read it, short enough to forget it
PENDING, DONE, LOST = "pending", "done", "lost"
# A trial still pending after this is lost (no worker took it, or it crashed): past the job's 180 s limit.
GIVE_UP_SECONDS = 200


class TrialUnavailable(Exception):
    """The job queue or the cache cannot be reached: the model cannot run now."""


def _key(trial_id: str) -> str:
    return f"knowledge:question-trial:{trial_id}"


def question_trial_start(*, workspace, user, question: str) -> str:
    """Store a pending trial and enqueue its drafting job; returns its id. Raises TrialUnavailable
    when Redis (cache or broker) refuses, leaving nothing behind."""
    trial_id = secrets.token_urlsafe(18)
    record = {"workspace_id": workspace.pk, "user_id": user.pk, "question": question, "status": PENDING,
              "started_at": time.time()}
    try:
        cache.set(_key(trial_id), record, TRIAL_TTL)
    except Exception as exc:  # noqa: BLE001 - any Redis failure means the same to the page
        logger.warning("question trial not stored (%s: %s)", type(exc).__name__, exc)
        raise TrialUnavailable from exc
    if not task_enqueue(TRIAL_TASK, args=[trial_id]):
        try:
            cache.delete(_key(trial_id))
        except Exception:  # noqa: BLE001, S110 - it expires on its own
            pass
        raise TrialUnavailable
    return trial_id


def question_trial_for(*, workspace, user, trial_id: str) -> dict | None:
    """The trial's record (status pending, done or lost), or None when the id is unknown or expired, or
    another person or workspace started it (the caller answers 404 alike). Raises TrialUnavailable when
    the cache is down."""
    try:
        record = cache.get(_key(trial_id))
    except Exception as exc:  # noqa: BLE001
        raise TrialUnavailable from exc
    if not isinstance(record, dict) or record.get("workspace_id") != workspace.pk or record.get("user_id") != user.pk:
        return None
    if record["status"] == PENDING and time.time() - record.get("started_at", 0) > GIVE_UP_SECONDS:
        return {**record, "status": LOST}
    return record


def question_trial_claim(*, trial_id: str) -> dict | None:
    """For the job: the record while it waits for its answer, claimed (an atomic add in Redis) so a
    duplicate delivery does nothing; None when done, expired, unknown or claimed by another run."""
    record = cache.get(_key(trial_id))
    if not isinstance(record, dict) or record.get("status") != PENDING:
        return None
    if not cache.add(_key(trial_id) + ":claim", 1, TRIAL_TTL):
        return None
    return record


def question_trial_finish(*, trial_id: str, record: dict, result: dict) -> None:
    """Store the job's result (plain, display-ready values) in the trial's record."""
    cache.set(_key(trial_id), {**record, "status": DONE, "result": result}, TRIAL_TTL)
