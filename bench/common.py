"""What the four benchmarks share: the environment they run Sidekick with, and one percentile.

Two ways to run: in this process against an embedded Postgres of the bench's own (dashboard,
retrieval: `in_process_env`), or as servers and workers in child processes (webhook, pipeline:
`server_env`). Neither touches the developer's `var/` data or a configured DATABASE_URL/REDIS_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "bench-only-secret-key-0123456789-0123456789-0123456789"
# A fixed Fernet key for in-process runs (their data is kept between runs and must stay readable).
FIELD_ENCRYPTION_KEY = "YmVuY2gtb25seS1rZXktYmVuY2gtb25seS1rZXktMDA="


def _base(var_dir: Path, *, debug: bool) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "sidekick_project.settings",
        "DEBUG": "1" if debug else "0",
        "SECRET_KEY": SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "SIDEKICK_VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
        # DEBUG off refuses to start with an e-mail backend that does not deliver (accounts.E001); the
        # benches send none, but a file backend under the bench's own directory satisfies the check.
        "EMAIL_URL": f"filemail://{var_dir.resolve() / 'mail'}",
    }


def in_process_env(var_dir: Path, *, debug: bool = False) -> None:
    """Set this process's environment before `django.setup()`: an embedded Postgres under `var_dir`,
    and a Redis URL that is never contacted (so none is started)."""
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:9/0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", FIELD_ENCRYPTION_KEY)
    for name, value in _base(var_dir, debug=debug).items():
        if name in ("SIDEKICK_VAR_DIR", "DEBUG"):
            os.environ[name] = value
        else:
            os.environ.setdefault(name, value)


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of child processes (gunicorn, Celery workers, manage.py): embedded Postgres and
    Redis under `var_dir`, a fresh encryption key unless `extra` gives one."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(_base(var_dir, debug=False))
    env.update({"ALLOWED_HOSTS": "127.0.0.1,localhost", "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()})
    env.update(extra)
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


def percentile(values, q: float) -> float:
    """The nearest-rank percentile of `values`, `q` from 0 to 100 (the one convention of every bench)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
