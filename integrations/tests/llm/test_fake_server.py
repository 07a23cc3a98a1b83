"""The fake server itself: routing, scripting, recording, concurrency and clean shutdown."""

import threading
import time

import anthropic
import openai
import pytest

from conftest import run_concurrently
from testing.fake_llm import FakeLLMServer, Reply


def _openai(fake, **kwargs):
    return openai.OpenAI(api_key="k", base_url=fake.url + "/v1", max_retries=0, **kwargs)


def test_queue_then_handler_then_default(fake_llm):
    fake_llm.queue(Reply.text("first"))
    client = _openai(fake_llm)
    ask = lambda: client.chat.completions.create(  # noqa: E731
        model="m", messages=[{"role": "user", "content": "hi"}]).choices[0].message.content

    assert ask() == "first"
    assert ask() == "OK"  # default
    fake_llm.handler = lambda request: f"you said {request.last_user_text}"
    assert ask() == "you said hi"
    fake_llm.handler = lambda request: {"structured": True}  # a dict is structured output
    assert ask() == '{"structured": true}'
    assert len(fake_llm.requests) == 4 and fake_llm.pending == 0


def test_records_the_anthropic_request(fake_llm):
    client = anthropic.Anthropic(api_key="sk-ant-k", base_url=fake_llm.url, max_retries=0)
    client.messages.create(model="claude-haiku-4-5", max_tokens=10, system="sys",
                           messages=[{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
                                     {"role": "user", "content": "three"}])
    request = fake_llm.last_request
    assert (request.protocol, request.model, request.system, request.last_user_text) == (
        "anthropic", "claude-haiku-4-5", "sys", "three")
    assert request.api_key == "sk-ant-k" and not request.wants_structured
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_unknown_route_is_404(fake_llm):
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(api_key="k", base_url=fake_llm.url + "/nope", max_retries=0).embeddings.create(
            model="m", input="x")


def test_delayed_replies_are_served_concurrently():
    """Benchmarks keep many calls in flight: 40 replies delayed 0.5 s each take about 0.5 s in all."""
    with FakeLLMServer(default=Reply.text("slow", delay=0.5)) as fake:
        client = _openai(fake)
        errors = []

        def call():
            try:
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        started = time.monotonic()
        run_concurrently(*[call] * 40)
        elapsed = time.monotonic() - started

    assert not errors
    assert len(fake.requests) == 40
    assert elapsed < 2.5


def test_stop_releases_sleeping_and_idle_handler_threads():
    before = threading.active_count()
    fake = FakeLLMServer().start()
    client = _openai(fake, timeout=0.2)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])  # idle keep-alive
    fake.queue(Reply.hang(30))
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    client.close()
    fake.stop()

    deadline = time.monotonic() + 3
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
