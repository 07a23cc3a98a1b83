"""Provider errors become typed LLMErrors; only transient ones are retried, within bounds."""

import time

import pytest

from integrations.llm.errors import ErrorKind, LLMError, LLMOutputError, NoProviderConfigured
from integrations.llm.gateway import llm_complete
from integrations.llm.models import LLMUsage
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

KEY = "sk-test-secret-abcdefghijklmnop-0123456789"
SCHEMA = {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"],
          "additionalProperties": False}
KINDS = ["anthropic", "openai", "azure_openai", "ollama", "openai_compatible"]


def _call(workspace, **kwargs):
    return llm_complete(workspace=workspace, purpose="test", system="s",
                        messages=[{"role": "user", "content": "hi"}], **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_401_is_permanent_and_not_retried(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind, api_key=KEY)
    fake_llm.queue(Reply.error(401, f"Incorrect API key provided: {KEY}"), Reply.text("never reached"))

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.AUTH and caught.value.permanent
    assert len(fake_llm.requests) == 1
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    usage = LLMUsage.objects.get()
    assert (usage.outcome, usage.attempts, usage.input_tokens, usage.output_tokens) == ("auth", 1, 0, 0)
    assert KEY not in usage.error_message


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_429_is_retried_then_succeeds_honouring_retry_after(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.rate_limited(retry_after=0.2), Reply.text("finally", input_tokens=5, output_tokens=2))

    started = time.monotonic()
    result = _call(llm_workspace)

    assert time.monotonic() - started >= 0.2  # waited as the provider asked
    assert result.text == "finally" and result.attempts == 2
    assert len(fake_llm.requests) == 2
    usage = LLMUsage.objects.get()
    assert (usage.outcome, usage.attempts, usage.input_tokens, usage.output_tokens) == ("ok", 2, 5, 2)


def test_429_gives_up_after_the_retry_budget(fake_llm, llm_workspace, settings):
    settings.LLM_MAX_RETRIES = 2
    fake_llm.provider(llm_workspace, kind="openai")
    fake_llm.handler = lambda request: Reply.rate_limited()

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.RATE_LIMIT and not caught.value.permanent
    assert len(fake_llm.requests) == 3  # first attempt + 2 retries
    assert LLMUsage.objects.get().outcome == "rate_limit"


def test_429_with_a_long_retry_after_gives_up_at_once(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.rate_limited(retry_after=3600))

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.RATE_LIMIT and caught.value.retry_after == 3600
    assert len(fake_llm.requests) == 1


def test_openai_insufficient_quota_429_is_permanent_billing(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai")
    fake_llm.queue(Reply.error(429, "You exceeded your current quota", code="insufficient_quota"))

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.BILLING and caught.value.permanent
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("kind", ["anthropic", "azure_openai"])
@pytest.mark.parametrize("status", [500, 503, 529])
def test_5xx_is_retried(fake_llm, llm_workspace, kind, status):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.server_error(status), Reply.text("recovered"))

    assert _call(llm_workspace).text == "recovered"
    assert len(fake_llm.requests) == 2


def test_400_is_permanent_bad_request(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.error(400, "prompt is too long"))

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.BAD_REQUEST and caught.value.permanent
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_timeout_is_retried_a_bounded_number_of_times_then_typed(fake_llm, llm_workspace, settings, kind):
    settings.LLM_MAX_RETRIES = 1
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.handler = lambda request: Reply.hang(5)

    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        _call(llm_workspace, timeout=0.3)
    elapsed = time.monotonic() - started

    assert caught.value.kind == ErrorKind.TIMEOUT and not caught.value.permanent
    assert len(fake_llm.requests) == 2
    assert elapsed < 2.5  # two 0.3 s attempts and a short backoff, not the 5 s hang
    usage = LLMUsage.objects.get()
    assert usage.outcome == "timeout" and usage.attempts == 2 and usage.latency_ms >= 600


def test_timeout_then_success(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.hang(5), Reply.text("fast now"))

    result = _call(llm_workspace, timeout=0.3)

    assert result.text == "fast now" and result.attempts == 2


def test_connection_refused_is_a_transient_connection_error(fake_llm, llm_workspace, settings):
    settings.LLM_MAX_RETRIES = 1
    provider = fake_llm.provider(llm_workspace, kind="openai")
    provider.base_url = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    provider.save()

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.CONNECTION and not caught.value.permanent
    assert LLMUsage.objects.get().attempts == 2


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_malformed_json_body_is_a_transient_bad_response(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.malformed_json(), Reply.text("good"))

    assert _call(llm_workspace).text == "good"
    assert len(fake_llm.requests) == 2


def test_non_json_body_every_time_ends_as_bad_response(fake_llm, llm_workspace, settings):
    settings.LLM_MAX_RETRIES = 1
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.handler = lambda request: Reply.raw("<html>gateway</html>", content_type="text/html")

    with pytest.raises(LLMError) as caught:
        _call(llm_workspace)

    assert caught.value.kind == ErrorKind.BAD_RESPONSE
    assert len(fake_llm.requests) == 2


def test_dropped_connection_is_retried(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai")
    fake_llm.queue(Reply.disconnect(), Reply.text("back"))

    assert _call(llm_workspace).text == "back"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", [
    Reply.text("Sure! Here is your answer without JSON."),  # ignored the schema
    Reply.structured({"reply": 42}),  # wrong type
    Reply.structured({"answer": "hi"}),  # missing required, unexpected property
])
def test_malformed_structured_output_is_a_repairable_typed_error(fake_llm, llm_workspace, kind, bad):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(bad)

    with pytest.raises(LLMOutputError) as caught:
        _call(llm_workspace, schema=SCHEMA)

    error = caught.value
    assert error.kind == ErrorKind.INVALID_OUTPUT and error.permanent
    assert error.raw  # what the model said, for a repair prompt
    assert error.result is not None and error.result.output_tokens > 0
    assert len(fake_llm.requests) == 1  # not retried: the caller repairs
    usage = LLMUsage.objects.get()
    assert usage.outcome == "invalid_output" and usage.output_tokens > 0 and usage.cost_usd >= 0
    assert usage.error_message


def test_repair_round_trip(fake_llm, llm_workspace):
    """The pipeline's pattern: on LLMOutputError, send the raw output back once asking for a fix."""
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.text("reply: hi"), Reply.structured({"reply": "hi"}))

    with pytest.raises(LLMOutputError) as caught:
        _call(llm_workspace, schema=SCHEMA)
    repaired = llm_complete(
        workspace=llm_workspace, purpose="draft_repair", system="s", schema=SCHEMA,
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": caught.value.raw},
                  {"role": "user", "content": f"Fix: {caught.value}"}],
    )

    assert repaired.parsed == {"reply": "hi"}
    assert fake_llm.requests[1].messages[1] == {"role": "assistant", "content": "reply: hi"}


def test_no_provider_configured(llm_workspace):
    with pytest.raises(NoProviderConfigured):
        _call(llm_workspace)
    assert not LLMUsage.objects.exists()


def test_user_override_wins_over_workspace_default(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic", model="claude-haiku-4-5")
    fake_llm.provider(llm_workspace, kind="openai", model="gpt-4o", user=llm_workspace.setter_user)

    _call(llm_workspace, user=llm_workspace.setter_user)
    _call(llm_workspace, user=llm_workspace.admin_user)
    _call(llm_workspace)

    assert [r.model for r in fake_llm.requests] == ["gpt-4o", "claude-haiku-4-5", "claude-haiku-4-5"]


def test_caller_mistakes_fail_fast_without_a_call(fake_llm, llm_workspace):
    from accounts.tests.factories import WorkspaceFactory

    foreign = fake_llm.provider(WorkspaceFactory(), kind="openai")
    fake_llm.provider(llm_workspace, kind="openai")
    with pytest.raises(ValueError, match="another workspace"):
        _call(llm_workspace, provider=foreign)
    with pytest.raises(ValueError, match="system"):
        llm_complete(workspace=llm_workspace, purpose="t", system="s", messages=[{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="at least one"):
        llm_complete(workspace=llm_workspace, purpose="t", system="s", messages=[])
    assert fake_llm.requests == [] and not LLMUsage.objects.exists()
