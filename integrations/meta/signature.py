"""X-Hub-Signature-256 verification over the raw request body.

Meta signs with the secret of the app the webhook subscription belongs to: the Instagram Login app
or the Facebook Login (Meta) app. Either configured secret is accepted; the name of the one that
matched is returned so the stored event records it.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send for ``body``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def configured_secrets() -> list[tuple[str, str]]:
    secrets = [("meta", settings.META_APP_SECRET), ("instagram", settings.INSTAGRAM_APP_SECRET)]
    return [(name, secret) for name, secret in secrets if secret]


def verify(body: bytes, header: str | None, secrets: list[tuple[str, str]] | None = None) -> str | None:
    """Name of the app secret that produced ``header`` for ``body``, or None.

    Every configured secret is compared (constant time each) so timing reveals nothing about which
    app matched or how much of the digest was right.
    """
    if not header or not header.startswith(PREFIX):
        return None
    try:
        claimed = bytes.fromhex(header[len(PREFIX):].strip())
    except ValueError:
        return None
    matched = None
    for name, secret in configured_secrets() if secrets is None else secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        if hmac.compare_digest(digest, claimed) and matched is None:
            matched = name
    return matched
