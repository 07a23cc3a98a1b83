"""SDK clients are cached per thread and configuration (one connection pool per worker thread)."""

import threading

from integrations.llm import adapters
from integrations.llm.base import ProviderConfig


class FakeClient:
    def __init__(self, config):
        self.config, self.closed = config, False

    def close(self):
        self.closed = True


def _cache():
    built = []

    def factory(config):
        built.append(FakeClient(config))
        return built[-1]

    return adapters._per_thread(factory), built


def test_a_thread_reuses_its_client_per_configuration():
    client_for, built = _cache()
    a, b = ProviderConfig(kind="anthropic", model="m1"), ProviderConfig(kind="anthropic", model="m2")
    first = client_for(a)
    assert client_for(a) is first and client_for(ProviderConfig(kind="anthropic", model="m1")) is first
    assert client_for(b) is not first
    assert len(built) == 2


def test_each_thread_builds_its_own_client():
    client_for, built = _cache()
    config = ProviderConfig(kind="openai", model="gpt", api_key="sk-1")
    mine = client_for(config)
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(client_for(config)))
    worker.start()
    worker.join(timeout=10)
    assert theirs and theirs[0] is not mine and theirs[0].config == mine.config
    assert client_for(config) is mine


def test_the_least_recently_used_client_is_closed_beyond_the_limit(monkeypatch):
    monkeypatch.setattr(adapters, "CLIENTS_PER_THREAD", 2)
    client_for, built = _cache()
    one, two, three = (ProviderConfig(kind="ollama", model=f"m{n}") for n in range(3))
    first, second = client_for(one), client_for(two)
    client_for(one)  # used again: now the most recent
    client_for(three)
    assert second.closed and not first.closed
    assert client_for(one) is first
    assert client_for(two) is not second  # rebuilt after its eviction
    assert len(built) == 4


def test_a_rotated_key_gets_a_new_client():
    client_for, _ = _cache()
    old = client_for(ProviderConfig(kind="anthropic", model="m", api_key="sk-old"))
    assert client_for(ProviderConfig(kind="anthropic", model="m", api_key="sk-new")) is not old


def test_sdk_clients_share_one_tls_context_and_keep_the_sdk_defaults():
    """A new client per thread must not reload the CA bundle (~20 ms each): both SDKs get one context."""
    import anthropic

    anthropic_client = adapters._anthropic_client.__wrapped__(ProviderConfig(kind="anthropic", model="m"))
    openai_client = adapters._openai_client.__wrapped__(ProviderConfig(kind="openai", model="m"))
    azure_client = adapters._openai_client.__wrapped__(ProviderConfig(
        kind="azure_openai", model="m", base_url="https://example.openai.azure.com", api_version="2024-10-21"))
    contexts = {id(pool._ssl_context) for client in (anthropic_client, openai_client, azure_client)
                for pool in [client._client._transport._pool]}
    assert contexts == {id(adapters._tls_context())}
    assert anthropic_client._client.timeout == anthropic.DefaultHttpxClient().timeout
    assert anthropic_client.max_retries == openai_client.max_retries == 0
