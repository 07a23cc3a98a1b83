"""Fixtures shared by the channel tests (imported by the conftest of each app that needs them)."""

import json

import pytest

from integrations.meta.signature import sign

META_SECRET = "meta-app-secret-for-tests"
INSTAGRAM_SECRET = "instagram-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"


@pytest.fixture(autouse=True)
def meta_settings(settings):
    settings.META_APP_SECRET = META_SECRET
    settings.INSTAGRAM_APP_SECRET = INSTAGRAM_SECRET
    settings.META_VERIFY_TOKEN = VERIFY_TOKEN
    settings.META_APP_ID = "111"
    settings.INSTAGRAM_APP_ID = "222"
    settings.META_SANDBOX = False
    return settings


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    """Retries still happen; only the waiting between them is skipped. The waits are recorded."""
    waits = []
    monkeypatch.setattr("integrations.meta.client._sleep", waits.append)
    return waits


@pytest.fixture
def post_webhook(client):
    def post(payload, *, secret=INSTAGRAM_SECRET, path="/webhooks/meta/", raw: bytes | None = None, signature=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {}
        if signature is not False:
            headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body, secret) if signature is None else signature
        return client.post(path, data=body, content_type="application/json", **headers)

    return post


@pytest.fixture
def channel(db):
    from integrations.tests.factories import ChannelFactory

    return ChannelFactory()


@pytest.fixture
def messenger_channel(db):
    from integrations.tests.factories import MessengerChannelFactory

    return MessengerChannelFactory()
