"""The assistant's pages per role, and isolation: a user sees only their own conversations."""

import pytest
from django.urls import reverse

from assistant.models import AssistantConversation, AssistantMessage, MessageStatus
from assistant.services import assistant_ask
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def _url(workspace, name, *args):
    return reverse(f"assistant:{name}", args=[workspace.slug, *args])


def _conversation(workspace, user, text="Where do we stand with Maria?"):
    conversation = AssistantConversation.objects.create(workspace=workspace, user=user, title=text[:80])
    AssistantMessage.objects.create(conversation=conversation, role="user", content=text)
    answer = AssistantMessage.objects.create(conversation=conversation, role="assistant", content="She wants Tuesdays.")
    return conversation, answer


def test_a_users_conversations_are_theirs_alone(client, team):
    mine, my_answer = _conversation(team, team.setter_user)
    theirs, their_answer = _conversation(team, team.other_setter, text="Other setter's question")
    client.force_login(team.setter_user)
    listing = client.get(_url(team, "conversations")).content.decode()
    assert "Where do we stand with Maria?" in listing and "Other setter&#x27;s question" not in listing
    assert client.get(_url(team, "conversation", mine.pk)).status_code == 200
    for name, args in (("conversation", [theirs.pk]), ("message", [their_answer.pk])):
        assert client.get(_url(team, name, *args)).status_code == 404
    for name, args in (("archive", [theirs.pk]), ("stop", [their_answer.pk]), ("retry", [their_answer.pk])):
        assert client.post(_url(team, name, *args)).status_code == 404
    assert client.get(_url(team, "panel") + f"?conversation={theirs.pk}").status_code == 404
    assert client.post(_url(team, "send"), {"conversation": theirs.pk, "text": "hi"}).status_code == 404
    # Not even an admin of the workspace reads a setter's conversation.
    client.force_login(team.admin_user)
    assert client.get(_url(team, "conversation", mine.pk)).status_code == 404


def test_another_workspace_sees_nothing(client, team):
    mine, answer = _conversation(team, team.setter_user)
    client.force_login(team.stranger)
    other = team.stranger.memberships.first().workspace
    assert client.get(_url(team, "conversations")).status_code == 404  # not a member
    assert client.get(_url(other, "conversation", mine.pk)).status_code == 404
    assert client.get(_url(other, "message", answer.pk)).status_code == 404


def test_search_by_title_and_content_and_archive(client, team):
    first, _ = _conversation(team, team.setter_user, text="Pricing objections")
    second, _ = _conversation(team, team.setter_user, text="Follow-up timing")
    client.force_login(team.setter_user)
    assert [c.pk for c in client.get(_url(team, "conversations") + "?q=pricing").context["conversations"]] == [first.pk]
    by_content = client.get(_url(team, "conversations") + "?q=tuesdays").context["conversations"]
    assert {c.pk for c in by_content} == {first.pk, second.pk}
    client.post(_url(team, "archive", first.pk), {"archived": "1"})
    assert [c.pk for c in client.get(_url(team, "conversations")).context["conversations"]] == [second.pk]
    assert [c.pk for c in client.get(_url(team, "conversations") + "?archived=1").context["conversations"]] == [first.pk]


def test_the_sidebar_is_on_dashboard_pages_with_the_page_as_context(client, team):
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=team))
    client.force_login(team.setter_user)
    html = client.get(reverse("conversations:thread", args=[team.slug, thread.pk])).content.decode()
    assert 'id="assistant-panel"' in html and f"page_type=thread&amp;page_id={thread.pk}" in html
    assert "js/assistant.js" in html
    inbox = client.get(reverse("conversations:inbox", args=[team.slug])).content.decode()
    assert "page_type=general" in inbox


def test_panel_offers_the_page_and_the_other_contexts(client, fake_llm, team):
    fake_llm.provider(team)
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=team), contact__display_name="Maria Lopez")
    client.force_login(team.setter_user)
    response = client.get(_url(team, "panel") + f"?page_type=thread&page_id={thread.pk}", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "This page: Conversation with Maria Lopez" in html
    assert all(label in html for label in ("General", "Strategy", "Content"))
    assert "Tokens used today: 0 of" in html


def test_panel_with_another_workspaces_thread_is_404(client, team):
    foreign = ThreadFactory()
    client.force_login(team.setter_user)
    assert client.get(_url(team, "panel") + f"?page_type=thread&page_id={foreign.pk}").status_code == 404
    response = client.post(_url(team, "send"), {"text": "hi", "context": "page", "page_type": "thread",
                                                "page_id": foreign.pk})
    assert response.status_code == 404 and not AssistantMessage.objects.exists()


def test_send_stores_and_shows_the_streaming_answer_then_the_poll_shows_the_text(client, fake_llm, team):
    fake_llm.provider(team)
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=team))
    InboundMessageFactory(thread=thread, text="Is there parking?")
    client.force_login(team.setter_user)
    response = client.post(_url(team, "send"), {"text": "What do I say?", "context": "page", "page_type": "thread",
                                                "page_id": thread.pk}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    answer = AssistantMessage.objects.get(role="assistant")
    assert answer.status == MessageStatus.STREAMING and answer.conversation.context["thread_id"] == thread.pk
    assert "What do I say?" in html and _url(team, "message", answer.pk) in html and 'hx-trigger="load delay:300ms"' in html
    assert fake_llm.requests == []
    AssistantMessage.objects.filter(pk=answer.pk).update(content="Say yes, ", status=MessageStatus.STREAMING)
    poll = client.get(_url(team, "message", answer.pk)).content.decode()
    assert "Say yes," in poll and "delay:300ms" in poll and "Stop" in poll and "hx-swap-oob" not in poll
    AssistantMessage.objects.filter(pk=answer.pk).update(content="Say yes, there is.", status=MessageStatus.COMPLETE)
    poll = client.get(_url(team, "message", answer.pk)).content.decode()
    assert "Say yes, there is." in poll and "delay:300ms" not in poll  # the poll ends with the answer
    assert 'id="assistant-budget" hx-swap-oob="true"' in poll  # the token line is refreshed with it


def test_picking_strategy_instead_of_the_page(client, fake_llm, team):
    fake_llm.provider(team)
    client.force_login(team.admin_user)
    client.post(_url(team, "send"), {"text": "Quiet leads after the price?", "context": "strategy",
                                     "page_type": "insights"})
    assert AssistantConversation.objects.get().context_type == "strategy"


def test_stop_view_and_failed_answer_text(client, fake_llm, team):
    fake_llm.provider(team)
    asked = assistant_ask(workspace=team, user=team.setter_user, role="setter", text="hi")
    client.force_login(team.setter_user)
    html = client.post(_url(team, "stop", asked.answer.pk)).content.decode()
    assert "Stopped" in html and "Retry" in html
    AssistantMessage.objects.filter(pk=asked.answer.pk).update(status="failed", content="Half an",
                                                               error="The model's answer broke off; what arrived is shown.")
    html = client.get(_url(team, "message", asked.answer.pk)).content.decode()
    assert "Half an" in html and "broke off" in html


def test_the_refusal_at_the_limit_keeps_the_typed_text(client, fake_llm, team):
    fake_llm.provider(team)
    LLMQuotaPolicy.objects.create(workspace=team, setter_daily=100)
    LLMUsage.objects.create(workspace=team, user=team.setter_user, purpose="assistant", provider_kind="openai",
                            model="m", input_tokens=100, outcome="ok")
    client.force_login(team.setter_user)
    html = client.post(_url(team, "send"), {"text": "One more please", "context": "general"},
                       HTTP_HX_REQUEST="true").content.decode()
    assert "limit resets on" in html and "One more please</textarea>" in html and "Limit reached" in html
    assert not AssistantMessage.objects.exists() and fake_llm.requests == []


def test_no_provider_message_in_the_panel(client, team):
    client.force_login(team.setter_user)
    html = client.get(_url(team, "panel")).content.decode()
    assert "No language model is set up for you" in html


def test_own_key_page_saves_masked_and_tests(client, fake_llm, team):
    client.force_login(team.setter_user)
    response = client.post(_url(team, "key"), {"action": "save", "kind": "anthropic", "model": "claude-x",
                                               "api_key": "sk-ant-secret-99887766", "base_url": fake_llm.url})
    assert response.status_code == 302
    provider = LLMProvider.objects.get(user=team.setter_user)
    html = client.get(_url(team, "key")).content.decode()
    assert "sk-ant-secret-99887766" not in html and provider.masked_api_key in html
    html = client.post(_url(team, "key"), {"action": "test"}).content.decode()
    assert "Connected to" in html
    client.post(_url(team, "key"), {"action": "delete"})
    assert not LLMProvider.objects.filter(user=team.setter_user).exists()


def test_usage_page_setter_sees_only_their_own_row_admin_sees_everyone_and_top_users(client, team):
    LLMQuotaPolicy.objects.create(workspace=team, setter_daily=None, setter_monthly=100_000)
    for user, tokens, cost in ((team.setter_user, 3_000, "0.5"), (team.other_setter, 9_000, "1.25"),
                               (team.admin_user, 1_000, "0.1")):
        LLMUsage.objects.create(workspace=team, user=user, purpose="assistant", provider_kind="anthropic",
                                model="claude-sonnet-4-6", input_tokens=tokens, cost_usd=cost, outcome="ok")
    url = reverse("integrations:llm_usage", args=[team.slug])
    client.force_login(team.setter_user)
    response = client.get(url)
    rows = response.context["quota_rows"]
    assert [r.label for r in rows] == [team.setter_user.email]
    assert rows[0].month_used == 3_000 and rows[0].month_limit == 100_000 and str(rows[0].month_cost) == "0.500000"
    assert response.context["top_users"] == [] and team.other_setter.email not in response.content.decode()
    assert sum(sum(d["data"]) for d in response.context["chart"]["datasets"]) == 3_000
    client.force_login(team.admin_user)
    response = client.get(url)
    assert [r.label for r in response.context["top_users"]] == [team.other_setter.email, team.setter_user.email,
                                                                  team.admin_user.email]
    assert "Top users this month" in response.content.decode()


def test_the_conversation_page_continues_the_conversation_in_place(client, fake_llm, team):
    fake_llm.provider(team)
    conversation, _ = _conversation(team, team.setter_user)
    client.force_login(team.setter_user)
    html = client.get(_url(team, "conversation", conversation.pk)).content.decode()
    assert 'id="assistant-page"' in html and 'hx-target="#assistant-page"' in html and "She wants Tuesdays." in html
    response = client.post(_url(team, "send"), {"conversation": conversation.pk, "text": "And on Thursdays?"},
                           HTTP_HX_REQUEST="true", HTTP_HX_TARGET="assistant-page")
    assert 'hx-target="#assistant-page"' in response.content.decode()
    assert list(conversation.messages.values_list("content", flat=True)) == [
        "Where do we stand with Maria?", "She wants Tuesdays.", "And on Thursdays?", ""]


def test_the_poll_is_cheap_one_query_beyond_login_and_tenancy(client, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    conversation, _ = _conversation(team, team.setter_user)
    answer = AssistantMessage.objects.create(conversation=conversation, role="assistant", status="streaming",
                                             content="So far")
    client.force_login(team.setter_user)
    client.get(_url(team, "message", answer.pk))
    with CaptureQueriesContext(connection) as ctx:
        client.get(_url(team, "message", answer.pk))
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in ctx.captured_queries]
    assert tables == ['"django_session"', '"accounts_user"', '"accounts_membership"', '"assistant_assistantmessage"']
