"""Typed reads of environment variables that fail loudly, naming the variable.

django-environ parses URLs and lists well but reads an unknown boolean such as ``DEBUG=yess`` as
False without a word. Sidekick refuses to start instead: a misread flag in production is worse
than a crash at boot.
"""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = env.str(name, default=None)
    return None if value is None else value.strip()


def bool_(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def int_(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}")
    return number


def float_(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(f"{name}={number} is outside {minimum}..{maximum}")
    return number


def str_(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def list_(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def emails(name: str) -> frozenset[str]:
    """Comma-separated email addresses, lower-cased for case-insensitive exact matching."""
    found = set()
    for item in list_(name):
        local, sep, domain = item.partition("@")
        if not sep or not local or "." not in domain or " " in item:
            raise ImproperlyConfigured(f"{name} contains {item!r}, which is not an email address")
        found.add(item.lower())
    return frozenset(found)


def url(name: str, schemes: set[str]) -> str | None:
    value = _raw(name)
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name} must be a URL with one of the schemes {allowed}; got {parsed.scheme or value!r}")
    return value


def database(name: str) -> dict | None:
    value = url(name, {"postgres", "postgresql", "pgsql"})
    if value is None:
        return None
    config = environ.Env.db_url_config(value)
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database (postgres://user:pass@host:5432/dbname)")
    config["ENGINE"] = "django.db.backends.postgresql"
    return config


def timezone(name: str, default: str) -> str:
    value = str_(name, default)
    if value not in zoneinfo.available_timezones():
        raise ImproperlyConfigured(f"{name}={value!r} is not an IANA time zone such as Europe/Paris")
    return value


def fernet_keys(name: str) -> list[str]:
    from cryptography.fernet import Fernet

    keys = list_(name)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
    return keys


def derived_fernet_key(secret: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + secret).encode()).digest()).decode()
