"""`make run`: embedded services, migrations, demo data, then web + workers + beat in one terminal.

Each child's output is prefixed with its name. The runner supervises: a child that exits is started again
after a backoff (1 s, doubling to 30 s; back to 1 s once it has run a minute) with a line saying so, and
an embedded Postgres or Redis this checkout uses that stops is started again the same way. Ctrl-C (or
SIGTERM) stops the children, then the embedded Postgres and Redis this runner started.

Hand-written rather than circus or honcho: honcho stops everything when one process exits (what issue 12
was about), circus brings a daemon, ZeroMQ and its own config format for five processes; and neither
would watch the embedded services, which are daemons the runner starts through `embedded`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
COLOURS = {"web": "36", "stream": "34", "intake": "33", "llm": "35", "beat": "32"}
RESTART_DELAY_FIRST, RESTART_DELAY_MAX = 1.0, 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long starts again from the first delay
WEB_WORKERS, WEB_THREADS = 2, 8  # as in the README's production command and bench/webhook.py


def _pump(name: str, stream) -> None:
    colour = COLOURS.get(name, "0")
    width = max(len(n) for n in COLOURS)
    tty = sys.stdout.isatty()
    for line in iter(stream.readline, b""):
        label = f"{name:<{width}} |"
        if tty:
            label = f"\033[{colour}m{label}\033[0m"
        sys.stdout.write(f"{label} {line.decode(errors='replace').rstrip()}\n")
        sys.stdout.flush()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick_project.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # Without a Meta app configured, the demo talks to the built-in Graph stand-in (sandbox).
    if not (os.environ.get("META_APP_SECRET") or os.environ.get("INSTAGRAM_APP_SECRET")):
        os.environ.setdefault("META_SANDBOX", "1")
    sys.path.insert(0, str(BASE_DIR))

    import django

    from sidekick_project import embedded

    var_dir = Path(os.environ.get("SIDEKICK_VAR_DIR", BASE_DIR / "var")).resolve()
    started_pg = started_redis = False
    if not os.environ.get("DATABASE_URL"):
        started_pg = embedded.postgres_running(var_dir) is None
        info = embedded.ensure_postgres(var_dir)
        print(f"postgres: {'started' if started_pg else 'reusing'} embedded server (pid {info.pid}) in {var_dir / 'postgres'}")
    if not os.environ.get("REDIS_URL"):
        started_redis = embedded.redis_running(var_dir) is None
        info = embedded.ensure_redis(var_dir)
        print(f"redis:    {'started' if started_redis else 'reusing'} embedded server (pid {info.pid}) at {info.socket_path}")

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    print("database: migrations applied")
    call_command("seed_demo")

    python = sys.executable
    from django.conf import settings

    # From settings, which also derive SITE_URL from them: the links Sidekick writes use the port it serves.
    host, port = settings.RUN_HOST, settings.RUN_PORT
    # The assistant's live answers come from the stream server on the next port, on the host the browser
    # used for the page (":port": static/js/assistant.js completes it); the children read it from settings.
    stream_port = int(port) + 1
    os.environ.setdefault("ASSISTANT_STREAM_URL", f":{stream_port}")
    commands = {
        # The production server (as in the README and bench/webhook.py), not runserver: a fixed number of
        # request threads, each keeping at most one database connection, so a burst of webhooks cannot
        # open more connections than Postgres allows (runserver's thread per request did, issue 12).
        "web": web_command(python, host, port),
        "stream": stream_command(python, host, stream_port),
        "intake": [python, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "intake,default",
                   "-n", "intake@%h", "-c", "2", "--loglevel", "INFO"],
        "llm": [python, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "llm", "-n", "llm@%h",
                "--pool", "threads", "-c", "16", "--loglevel", "INFO"],
        "beat": [python, "-m", "celery", "-A", "sidekick_project", "beat", "--loglevel", "INFO",
                 "-s", str(var_dir / "celerybeat-schedule")],
    }
    services = []
    if not os.environ.get("DATABASE_URL"):
        services.append(Service("postgres", lambda: embedded.postgres_running(var_dir) is not None,
                                lambda: embedded.ensure_postgres(var_dir)))
    if not os.environ.get("REDIS_URL"):
        services.append(Service("redis", lambda: embedded.redis_running(var_dir) is not None,
                                lambda: embedded.ensure_redis(var_dir)))
    children = {name: Child(name, cmd, STREAM_ENV if name == "stream" else None) for name, cmd in commands.items()}
    for child in children.values():
        child.start()
    print(f"\nSidekick is running at http://{host}:{port}/  (Ctrl-C stops everything)\n", flush=True)

    stopping = threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping.is_set():
        for service in services:
            service.check()
        for child in children.values():
            child.check()
        stopping.wait(0.5)

    print("\nstopping…", flush=True)
    for child in children.values():
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        child.wait_or_kill(deadline)
    restarted = {service.name for service in services if service.restarted}
    if started_redis or "redis" in restarted:
        embedded.stop_redis(var_dir)
    if started_pg or "postgres" in restarted:
        embedded.stop_postgres(var_dir)
    print("stopped", flush=True)
    return 0


def web_command(python: str, host: str, port: str | int) -> list[str]:
    """The web server of `make run` (bench/webhook.py's 64-connection round starts exactly this)."""
    return [python, "-m", "gunicorn", "sidekick_project.wsgi:application", "--bind", f"{host}:{port}",
            "--workers", str(WEB_WORKERS), "--worker-class", "gthread", "--threads", str(WEB_THREADS),
            "--keep-alive", "30", "--access-logfile", "-", "--log-level", "warning"]


STREAM_ENV = {"DATABASE_CONN_MAX_AGE": "0"}


def stream_command(python: str, host: str, port: str | int) -> list[str]:
    """The assistant's stream server (sidekick_project.asgi_stream; bench/assistant_stream.py starts exactly this).

    Its views run in a thread per request (Django under ASGI), so a kept database connection would never
    be reused: the child gets DATABASE_CONN_MAX_AGE=0 (STREAM_ENV)."""
    return [python, "-m", "uvicorn", "sidekick_project.asgi_stream:application", "--host", host, "--port", str(port),
            "--lifespan", "off", "--no-access-log", "--timeout-graceful-shutdown", "3", "--log-level", "warning"]


class Backoff:
    """1 s, 2 s, 4 s … up to 30 s between restarts; from 1 s again once the thing stayed up a minute."""

    def __init__(self):
        self.delay = RESTART_DELAY_FIRST
        self.due = 0.0  # monotonic time of the next start, while waiting

    def schedule(self, ran_for: float) -> float:
        if ran_for >= HEALTHY_AFTER:
            self.delay = RESTART_DELAY_FIRST
        wait, self.delay = self.delay, min(RESTART_DELAY_MAX, self.delay * 2)
        self.due = time.monotonic() + wait
        return wait


class Child:
    """One supervised process (its own session, so a signal reaches its pool processes too)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None):
        self.name, self.cmd = name, cmd
        self.env = {**os.environ, **env} if env else None
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.backoff = Backoff()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.env)
        self.started_at = time.monotonic()
        threading.Thread(target=_pump, args=(self.name, self.proc.stdout), daemon=True).start()

    def check(self) -> None:
        if self.proc is None:
            if time.monotonic() >= self.backoff.due:
                self.restarts += 1
                print(f"runner: starting {self.name} again (restart {self.restarts})", flush=True)
                self.start()
            return
        code = self.proc.poll()
        if code is None:
            return
        ran_for = time.monotonic() - self.started_at
        wait = self.backoff.schedule(ran_for)
        self.proc = None
        print(f"runner: {self.name} exited with code {code} after {ran_for:.0f}s; restarting in {wait:.0f}s",
              flush=True)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def wait_or_kill(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=5)


class Service:
    """An embedded Postgres or Redis: started again when it stops (children reconnect on their own)."""

    def __init__(self, name: str, running, start):
        self.name, self.running, self.start = name, running, start
        self.backoff = Backoff()
        self.down = False
        self.restarted = False  # the runner started it, so Ctrl-C stops it

    def check(self) -> None:
        if self.running():
            if self.down:
                print(f"runner: embedded {self.name} is running again", flush=True)
                self.down = False
            return
        now = time.monotonic()
        if not self.down:
            self.down = True
            self.backoff = Backoff()  # the first attempt at once
            print(f"runner: embedded {self.name} stopped; starting it again", flush=True)
        if now < self.backoff.due:
            return
        try:
            self.start()
            self.restarted = True
        except Exception as exc:  # noqa: BLE001 - keep supervising; say why and try later
            wait = self.backoff.schedule(0)
            print(f"runner: embedded {self.name} did not start ({exc}); next try in {wait:.0f}s", flush=True)

if __name__ == "__main__":
    sys.exit(main())
