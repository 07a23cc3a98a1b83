"""Broker down for the length of a test, end to end (issue 12's bar): Meta keeps delivering DMs while
Redis is away; every delivery is answered 200 and stored, and once Redis is back every DM is answered
exactly once.

Everything runs as in production, as separate processes: gunicorn serving the real webhook view, and a
Celery worker (started before the outage, so it has to ride it out) doing intake and replies. They use
a private embedded Redis, so stopping it disturbs no other xdist worker, and this test's database. The
workspace has no LLM provider and an FAQ that matches the DMs, so each reply is the FAQ's answer
(no model), sent to the sandbox Graph stand-in, which records one `SandboxSend` per message sent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.utils import timezone
from kombu import Connection

from sidekick_project import embedded

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(__file__).resolve().parents[2]
SECRET = "outage-test-app-secret"
FAQS = {
    "What are your opening hours?": "Monday to Saturday, 9am to 7pm.",
    "Do you have parking?": "Free parking is available behind the building.",
    "How much is a massage?": "A one-hour massage is 80 euros.",
}
CONTACTS = [f"90000{n}" for n in range(6)]  # one DM each, questions taken in turn from FAQS


def _wait_for(predicate, timeout: float, step: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(redis_url: str) -> dict[str, str]:
    """The children's environment: this test's database (by name, on the suite's Postgres socket), the
    private Redis as broker and cache, the sandbox Graph stand-in, and the secret the test signs with."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(DJANGO_SETTINGS_MODULE="sidekick_project.settings_test", PYTHONUNBUFFERED="1",
               DATABASE_URL=f"postgres://{db['USER']}@/{db['NAME']}", PGHOST=db["HOST"], REDIS_URL=redis_url,
               META_SANDBOX="1", INSTAGRAM_APP_SECRET=SECRET, META_APP_SECRET=SECRET,
               CACHE_KEY_PREFIX=f"outage-e2e-{os.getpid()}")
    return env


def _dm(account_id: str, sender: str, n: int, text: str) -> tuple[bytes, str]:
    from integrations.meta.signature import sign

    now = int(time.time() * 1000)
    body = json.dumps({"object": "instagram", "entry": [{"id": account_id, "time": now, "messaging": [{
        "sender": {"id": sender}, "recipient": {"id": account_id}, "timestamp": now,
        "message": {"mid": f"outage_e2e_{n}", "text": text}}]}]}).encode()
    return body, sign(body, SECRET)


def _sweep(broker_url: str) -> None:
    """What beat does every minute, now (a test cannot wait a minute): both sweepers, through the broker."""
    from sidekick_project.celery import app

    with Connection(broker_url) as conn:
        for task in ("conversations.tasks.sweep_channels", "conversations.tasks.sweep_replies"):
            app.send_task(task, queue="default", connection=conn)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_dms_sent_while_redis_is_down_are_stored_then_answered_exactly_once(tmp_path):
    from conversations.models import Decision, Direction, Message, ReplyDraft
    from conversations.settings_rows import sidekick_settings_ensure
    from integrations.models import SandboxSend, WebhookEvent, WebhookEventStatus
    from integrations.tests.factories import ChannelFactory
    from knowledge.services import faq_create

    channel = ChannelFactory()  # its workspace has no LLM provider: FAQ-only mode
    workspace = channel.workspace
    settings_row = sidekick_settings_ensure(workspace=workspace)
    settings_row.debounce_seconds = 0
    settings_row.save(update_fields=["debounce_seconds"])
    for question, answer in FAQS.items():
        faq_create(workspace=workspace, question=question, answer=answer, actor=None)
    questions = list(FAQS)
    deliveries = [_dm(channel.account_id, sender, n, questions[n % len(questions)])
                  for n, sender in enumerate(CONTACTS)]

    var_dir = tmp_path / "broker"
    redis_info = embedded.ensure_redis(var_dir)
    env = _env(redis_info.url)
    port = _free_port()
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    procs: list[subprocess.Popen] = []
    logs = lambda: f"--- web\n{web_log.read_text()[-3000:]}\n--- worker\n{worker_log.read_text()[-4000:]}"  # noqa: E731
    try:
        with open(web_log, "w") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "sidekick_project.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", "1", "--worker-class", "gthread", "--threads", "4", "--log-level", "warning"],
                cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        with open(worker_log, "w") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "intake,default,llm",
                 "--pool", "threads", "-c", "4", "-n", f"outage-e2e-{os.getpid()}@%h", "--loglevel", "INFO"],
                cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        assert _wait_for(lambda: " ready." in worker_log.read_text(), 120), logs()
        url = f"http://127.0.0.1:{port}/webhooks/meta/"
        assert _wait_for(lambda: _listening(port), 90), logs()
        assert requests.get(url, timeout=5).status_code == 403  # gunicorn serves Django (no verify token)

        embedded.stop_redis(var_dir)
        assert embedded.redis_running(var_dir) is None
        statuses = []
        for body, sig in deliveries + deliveries:  # Meta delivers each DM twice
            response = requests.post(url, data=body, timeout=10,
                                     headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
            statuses.append(response.status_code)
        assert statuses == [200] * 2 * len(CONTACTS), logs()
        time.sleep(1)  # the relay's publish attempts fail meanwhile; the rows are what is durable
        events = WebhookEvent.objects.all()  # this test's database holds only these
        assert events.count() == 2 * len(CONTACTS)
        assert set(events.values_list("status", flat=True)) == {WebhookEventStatus.PENDING}
        assert not Message.objects.filter(workspace=workspace).exists()  # nothing got through without Redis

        redis_info = embedded.ensure_redis(var_dir)
        # The channel sweeper re-enqueues pending events older than its 30 s grace (younger ones may still
        # be in the broker); the test makes them that old instead of waiting.
        events.update(received_at=timezone.now() - timedelta(minutes=1))
        _sweep(redis_info.celery_url)

        sent = SandboxSend.objects.filter(channel=channel, kind="message")
        assert _wait_for(lambda: sent.count() >= len(CONTACTS), 120), logs()  # generous: a loaded CI machine
        # Another round of sweeps (as beat's next minute would) and a moment for any duplicate to show.
        _sweep(redis_info.celery_url)
        time.sleep(3)

        inbound = Message.objects.filter(workspace=workspace, direction=Direction.IN)
        assert sorted(inbound.values_list("mid", flat=True)) == sorted(f"outage_e2e_{n}" for n in range(len(CONTACTS)))
        replies = sorted((s.recipient_id, s.payload["message"]["text"]) for s in sent)
        assert replies == sorted((sender, FAQS[questions[n % len(questions)]]) for n, sender in enumerate(CONTACTS))
        drafts = ReplyDraft.objects.filter(inbound_message__in=inbound)
        assert sorted(drafts.values_list("decision", flat=True)) == [Decision.FAQ_ANSWERED] * len(CONTACTS)
        assert set(events.values_list("status", flat=True)) == {WebhookEventStatus.DONE}
        assert all(p.poll() is None for p in procs), logs()
        worker_output = worker_log.read_text()  # the worker noticed the outage and rode it out
        assert "Connection to broker lost" in worker_output and "Unrecoverable error" not in worker_output
    finally:
        for proc in procs:
            _stop(proc)
        embedded.stop_redis(var_dir)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
