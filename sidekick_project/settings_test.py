"""Settings for the test suite: the real settings, with defaults a test run needs.

Postgres and Redis stay real (embedded or from DATABASE_URL / REDIS_URL); only speed-ups and
safety nets differ.
"""

import os
from pathlib import Path

# Tests get their own embedded Postgres and Redis (var/test/), apart from a running `make run`,
# so a dev worker never consumes a test's task. DATABASE_URL / REDIS_URL still take precedence.
os.environ.setdefault("SIDEKICK_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "test"))
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789-abcdefghij")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SUPERADMIN_EMAILS", "root@sidekick.test")
os.environ.setdefault("LOG_FORMAT", "text")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("CACHE_KEY_PREFIX", f"sidekick-test-{os.getpid()}")

from sidekick_project.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# The suite runs with DEBUG off and keeps mails in memory (mail.outbox) on purpose.
SILENCED_SYSTEM_CHECKS = ["accounts.E001"]
