"""`make run`'s runner end to end: services, migrations, demo data, web + workers + beat, clean stop."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from sidekick_project import embedded

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> dict[int, str]:
    """pid -> command line of the runner's direct children."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            found[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
    return found


def _llm_worker(pid: int) -> int | None:
    return next((child for child, cmd in _children(pid).items() if "-Q llm" in cmd), None)


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return None


def test_runner_serves_the_demo_restarts_what_dies_and_stops_everything_on_ctrl_c(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("run")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL", "DEBUG"):
        env.pop(name, None)
    env.update(SIDEKICK_VAR_DIR=str(var_dir), RUN_PORT=str(port))
    runner = subprocess.Popen([sys.executable, "-m", "sidekick_project.runner"], cwd=BASE_DIR, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(runner.stdout.readline, "")), daemon=True)
    reader.start()
    said = lambda text: any(text in line for line in lines)  # noqa: E731
    try:
        deadline, body = time.monotonic() + 120, ""
        while time.monotonic() < deadline and runner.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert "Log in to Sidekick" in body, "the login page was not served"
        password = (var_dir / "demo-password.txt").read_text().strip()
        assert password.startswith("demo-")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        pg, rd = embedded.postgres_running(var_dir), embedded.redis_running(var_dir)
        assert pg is not None and rd is not None
        assert said("web ") and "gunicorn" in " ".join(_children(runner.pid).values())  # the production server

        # A killed worker is started again, with a line saying so; the rest keeps running.
        killed = _wait(lambda: _llm_worker(runner.pid), 30)
        assert killed, _children(runner.pid)
        os.killpg(killed, signal.SIGKILL)
        assert _wait(lambda: said("runner: llm exited with code -9"), 10), "".join(lines[-40:])
        replacement = _wait(lambda: (w := _llm_worker(runner.pid)) and w != killed and w, 15)
        assert replacement and said("runner: starting llm again (restart 1)"), "".join(lines[-40:])
        # So is the embedded Redis.
        embedded.stop_redis(var_dir)
        assert _wait(lambda: embedded.redis_running(var_dir), 15), "".join(lines[-40:])
        assert said("runner: embedded redis stopped; starting it again")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        assert runner.poll() is None

        runner.send_signal(signal.SIGINT)  # what Ctrl-C sends
        runner.wait(timeout=60)
        reader.join(timeout=5)
        output = "".join(lines)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            embedded.stop(var_dir)
    assert runner.returncode == 0, output[-3000:]
    assert f"password {password}" in output
    assert "stopped" in output
    # Everything the runner started is gone: services, web, workers and beat.
    assert embedded.postgres_running(var_dir) is None and embedded.redis_running(var_dir) is None
    leftovers = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}|{var_dir}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", leftovers.stdout
