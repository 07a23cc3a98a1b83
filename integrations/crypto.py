"""Encryption at rest for tokens and API keys (Fernet via `cryptography`, rotation with MultiFernet).

FIELD_ENCRYPTION_KEYS is a comma-separated list of Fernet keys: the first encrypts, all decrypt.
To rotate, put a new key first, run `manage.py rotate_encryption_keys`, then drop the old key.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionError(Exception):
    """A stored secret cannot be read with any configured key."""


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS") from None


def rotate(token: str) -> str:
    """Re-encrypt with the first key (no-op in meaning, new ciphertext)."""
    return fernet().rotate(token.encode()).decode()


def mask(secret: str | None, visible: int = 4) -> str:
    """What a page may show of a secret: its last few characters at most."""
    if not secret:
        return ""
    if len(secret) <= visible * 3:
        return "•" * 8
    return "•" * 8 + secret[-visible:]


class EncryptedTextField(models.TextField):
    """A text field stored as Fernet ciphertext; Python code sees plaintext.

    Not searchable or orderable by value, by design. Empty strings are stored as empty.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
