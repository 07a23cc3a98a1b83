"""llm_stream through the real SDKs against the fake provider's server-sent events (both wire formats)."""

import pytest

from integrations.llm.adapters import STOPPED, StreamBroken
from integrations.llm.errors import LLMError, QuotaExceeded
from integrations.llm.gateway import llm_stream
from integrations.llm.models import LLMQuotaPolicy, LLMUsage, Outcome
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)
KINDS = ["anthropic", "openai", "openai_compatible"]


def _stream(workspace, user, on_delta, **kwargs):
    return llm_stream(workspace=workspace, user=user, purpose="assistant", system="Be brief.",
                      messages=[{"role": "user", "content": "hello"}], on_delta=on_delta, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_pieces_arrive_in_order_and_the_usage_row_is_complete(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.stream(["Hel", "lo ", "there", "!"], input_tokens=11, output_tokens=4))
    seen = []
    result = _stream(llm_workspace, llm_workspace.setter_user, lambda text: seen.append(text) or True)
    assert seen == ["Hel", "lo ", "there", "!"]
    assert result.text == "Hello there!" and result.stop_reason in ("end_turn", "stop")
    assert (result.input_tokens, result.output_tokens) == (11, 4)
    assert fake_llm.last_request.json["stream"] is True
    usage = LLMUsage.objects.get(pk=result.usage_id)
    assert (usage.outcome, usage.purpose, usage.user_id) == (Outcome.OK, "assistant", llm_workspace.setter_user.pk)
    assert usage.total_tokens == 15 and usage.cost_usd > 0


@pytest.mark.parametrize("kind", KINDS)
def test_the_callback_stops_the_answer_and_keeps_what_arrived(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.stream(["one ", "two ", "three ", "four"]))
    seen = []

    def on_delta(text):
        seen.append(text)
        return len(seen) < 2

    result = _stream(llm_workspace, llm_workspace.admin_user, on_delta)
    assert result.text == "one two " and result.stop_reason == STOPPED
    assert result.output_tokens >= 1
    usage = LLMUsage.objects.get(pk=result.usage_id)
    assert usage.outcome == Outcome.OK and usage.error_message == "stopped by the reader"


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_lost_midway_raises_with_the_partial_text_and_is_not_retried(fake_llm, llm_workspace, kind):
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.stream(["Part ", "one ", "lost"], break_after=2), Reply.text("a retry must not happen"))
    seen = []
    with pytest.raises(StreamBroken) as caught:
        _stream(llm_workspace, llm_workspace.setter_user, lambda text: seen.append(text) or True)
    assert caught.value.text == "Part one " == "".join(seen)
    assert len(fake_llm.requests) == 1
    usage = LLMUsage.objects.get(workspace=llm_workspace, purpose="assistant")
    assert usage.outcome == "connection" and usage.output_tokens > 0  # what arrived is billed, so counted


def test_transient_errors_before_the_first_piece_are_retried(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.server_error(529), Reply.stream(["fine"]))
    result = _stream(llm_workspace, llm_workspace.setter_user, lambda text: True)
    assert result.text == "fine" and result.attempts == 2


def test_an_auth_error_is_raised_without_retry(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai")
    fake_llm.queue(Reply.unauthorized())
    with pytest.raises(LLMError) as caught:
        _stream(llm_workspace, llm_workspace.setter_user, lambda text: True)
    assert caught.value.kind == "auth" and len(fake_llm.requests) == 1


def test_quota_is_checked_before_any_request(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic")
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, setter_daily=0)
    with pytest.raises(QuotaExceeded):
        _stream(llm_workspace, llm_workspace.setter_user, lambda text: True)
    assert fake_llm.requests == []


def test_super_admins_have_no_per_user_limit(fake_llm, llm_workspace):
    from accounts.tests.factories import MembershipFactory

    root = MembershipFactory(workspace=llm_workspace, role="setter", user__email="root@sidekick.test").user
    assert root.is_superadmin
    fake_llm.provider(llm_workspace, kind="anthropic")
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, setter_daily=0, admin_daily=0)
    result = _stream(llm_workspace, root, lambda text: True)
    assert result.text == "OK" and LLMUsage.objects.get(pk=result.usage_id).user_id == root.pk


def test_a_plain_request_still_gets_a_plain_answer_from_a_stream_reply(fake_llm, llm_workspace):
    from integrations.llm.gateway import llm_complete

    fake_llm.provider(llm_workspace, kind="anthropic")
    fake_llm.queue(Reply.stream(["a", "b"]))
    result = llm_complete(workspace=llm_workspace, purpose="test", system="s", messages=[{"role": "user", "content": "x"}])
    assert result.text == "ab"


@pytest.mark.parametrize("kind", KINDS)
def test_a_provider_error_midway_counts_the_tokens_reported_or_estimated_and_says_so(fake_llm, llm_workspace, kind):
    """The provider's error event mid-answer (Anthropic's `overloaded_error`, OpenAI's error chunk) used to
    record 0 tokens: the part already written is billed, so it counts against the limits."""
    fake_llm.provider(llm_workspace, kind=kind)
    fake_llm.queue(Reply.stream(["Part ", "one ", "then ", "trouble"], error_after=2, input_tokens=321),
                   Reply.text("a retry must not happen"))
    seen = []
    with pytest.raises(StreamBroken) as caught:
        _stream(llm_workspace, llm_workspace.setter_user, lambda text: seen.append(text) or True)
    assert caught.value.text == "Part one " == "".join(seen)
    assert len(fake_llm.requests) == 1
    usage = LLMUsage.objects.get(workspace=llm_workspace, purpose="assistant")
    assert usage.output_tokens > 0 and usage.input_tokens > 0
    if kind == "anthropic":  # message_start reported the input tokens: those are recorded
        assert usage.input_tokens == 321
        assert "input tokens as reported, output tokens estimated" in usage.error_message
    else:  # OpenAI reports usage only at the end: both estimated
        assert "tokens estimated" in usage.error_message
    assert (caught.value.input_tokens, caught.value.output_tokens) == (usage.input_tokens, usage.output_tokens)
    assert caught.value.tokens_estimated
