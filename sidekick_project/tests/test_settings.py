"""Start-up configuration: malformed values stop the process with the variable named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_KEY = "k3J9-vQw2_LmZ8pXr5TtYb7NcH4sDf6GgUe1Ai0Oo_WqEr2Ty9Ui8Op7As6Dd"
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": GOOD_KEY,
    "ALLOWED_HOSTS": "sidekick.example.com",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTAwMDA=",
    "EMAIL_URL": "smtp+tls://sidekick:secret@smtp.example.com:587",  # accounts.E001 requires a real backend
}


# What settings_test puts in the environment must not leak into a "production" process.
TEST_ONLY = {"SIDEKICK_VAR_DIR", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "SUPERADMIN_EMAILS",
             "LOG_FORMAT", "STATIC_MANIFEST", "SECURE_SSL_REDIRECT", "CACHE_KEY_PREFIX", "DEBUG"}


def _production_env(**overrides):
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY and not k.startswith("DJANGO_")}
    env.update(PRODUCTION)
    # Reuse the test run's database and Redis so no extra servers start.
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "sidekick_project.settings"
    env.update(overrides)
    return env


def _manage(*args, **env_overrides):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=_production_env(**env_overrides),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("DEBUG", "yess", "DEBUG='yess' is not a boolean"),
    ("SECRET_KEY", "", "SECRET_KEY must be set"),
    ("ALLOWED_HOSTS", "", "ALLOWED_HOSTS must list"),
    ("DATABASE_URL", "mysql://x@y/z", "DATABASE_URL must be a URL with one of the schemes"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL"),
    ("SUPERADMIN_EMAILS", "ops@example.com,not-an-email", "SUPERADMIN_EMAILS contains 'not-an-email'"),
    ("FIELD_ENCRYPTION_KEYS", "short", "FIELD_ENCRYPTION_KEYS: key 1 is not a Fernet key"),
    ("DATABASE_CONN_MAX_AGE", "ten", "DATABASE_CONN_MAX_AGE='ten' is not a whole number"),
    ("TIME_ZONE", "Mars/Olympus", "TIME_ZONE='Mars/Olympus' is not an IANA time zone"),
    ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' must be"),
    ("INVITATION_TTL_DAYS", "0", "INVITATION_TTL_DAYS=0 is below the minimum 1"),
])
def test_malformed_environment_names_the_variable(name, value, message):
    result = _manage("check", **{name: value})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Configuration error:"), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_logs_are_json():
    code = "import logging, django; django.setup(); logging.getLogger('sidekick').warning('hello %s', 'there')"
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=_production_env(), capture_output=True,
                            text=True, timeout=60)
    import json

    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "hello there" and record["level"] == "WARNING" and record["logger"] == "sidekick"
