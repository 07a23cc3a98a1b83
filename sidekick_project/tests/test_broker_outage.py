"""A worker rides out a Redis outage (issue 12: it died with "Unrecoverable error: AttributeError
('NoneType' object has no attribute 'hostname')" through the broker patch, and `make run` with it).

A real worker process runs against its own embedded Redis (not the suite's, which other xdist workers
use), with tasks in flight when Redis stops; after Redis is back the same worker takes new work.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kombu import Connection

from sidekick_project import embedded

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _send(broker_url: str, tag: str, seconds: float, publish: bool = False) -> None:
    from sidekick_project.tests.outage_worker_app import app

    with Connection(broker_url) as connection:
        app.send_task("outage_test.slow", args=[tag, seconds, publish], queue="default", connection=connection)


def test_worker_survives_redis_going_away_and_takes_work_afterwards(tmp_path):
    var_dir = tmp_path / "broker"
    redis_info = embedded.ensure_redis(var_dir)
    log_path = tmp_path / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(REDIS_URL=redis_info.url, DATABASE_URL="postgres://unused@127.0.0.1:1/unused", DEBUG="1",
               PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="sidekick_project.settings")
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sidekick_project.tests.outage_worker_app", "worker", "-Q", "default",
             "--pool", "threads", "-c", "4", "-n", f"outage-{os.getpid()}@%h", "--loglevel", "INFO"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    output = lambda: log_path.read_text()  # noqa: E731
    try:
        _send(redis_info.celery_url, "warm-up", 0)
        assert _wait_for(lambda: "DONE warm-up" in output(), 60), output()[-3000:]
        for n in range(8):  # running, finishing or not yet started while Redis is away
            _send(redis_info.celery_url, f"in-flight-{n}", 1 + n / 2, publish=True)
        assert _wait_for(lambda: "outage_test.slow" in output().split("DONE warm-up")[-1], 10)
        time.sleep(0.5)
        embedded.stop_redis(var_dir)
        time.sleep(6)
        assert worker.poll() is None, output()[-3000:]
        redis_info = embedded.ensure_redis(var_dir)
        _send(redis_info.celery_url, "after-outage", 0)
        assert _wait_for(lambda: "DONE after-outage" in output(), 60), output()[-3000:]
        assert worker.poll() is None and "Unrecoverable error" not in output(), output()[-3000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        embedded.stop_redis(var_dir)
