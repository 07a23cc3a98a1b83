"""`make run`: embedded services, migrations, demo data, then web + workers + beat in one terminal.

Each child's output is prefixed with its name. Ctrl-C (or SIGTERM) stops the children, then the
embedded Postgres and Redis this runner started.
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
COLOURS = {"web": "36", "intake": "33", "llm": "35", "beat": "32"}


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
    host = os.environ.get("RUN_HOST", "127.0.0.1")
    port = os.environ.get("RUN_PORT", "8000")
    commands = {
        "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "intake": [python, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "intake,default",
                   "-n", "intake@%h", "-c", "2", "--loglevel", "INFO"],
        "llm": [python, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "llm", "-n", "llm@%h",
                "--pool", "threads", "-c", "16", "--loglevel", "INFO"],
        "beat": [python, "-m", "celery", "-A", "sidekick_project", "beat", "--loglevel", "INFO",
                 "-s", str(var_dir / "celerybeat-schedule")],
    }
    children: dict[str, subprocess.Popen] = {}
    for name, cmd in commands.items():
        proc = subprocess.Popen(cmd, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        children[name] = proc
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
    print(f"\nSidekick is running at http://{host}:{port}/  (Ctrl-C stops everything)\n")

    stopping = threading.Event()

    def _stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    while not stopping.is_set():
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping the rest")
                exit_code = proc.returncode or 1
                stopping.set()
                break
        stopping.wait(0.5)

    print("\nstopping…")
    for proc in children.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if started_redis:
        embedded.stop_redis(var_dir)
    if started_pg:
        embedded.stop_postgres(var_dir)
    print("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
