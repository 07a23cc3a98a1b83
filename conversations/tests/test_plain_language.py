"""No developer text in the UI (#18): the confidence breakdown as labelled bars, the "no provider" banner,
the navigation counts, and the focus ring's contrast."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from conversations import escalations
from conversations.models import Decision, ReplyDraft, Thread, ThreadStatus
from conversations.templatetags.plain import confidence_bars
from integrations.llm.models import LLMProvider

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _details(client, scene, parts):
    draft = ReplyDraft.objects.create(workspace=scene.workspace, thread=scene.thread, text="Hi", confidence=0.56,
                                      confidence_parts=parts, decision=Decision.DRAFT_SAVED)
    client.force_login(scene.setter)
    return client.get(reverse("conversations:draft_details", args=[scene.workspace.slug, draft.pk]), **HTMX
                      ).content.decode()


def test_confidence_breakdown_is_labelled_bars_not_a_dict(client, scene):
    html = _details(client, scene, {"evidence": 1.0, "self_rating": 0.8, "reviewer": 0.7, "penalty": 0.0,
                                    "value": 0.56, "evidence_kind": "source", "formula": "evidence × self × reviewer",
                                    "evidence_detail": {"cited": [3], "grounded_share": 0.61}})
    assert "The model&#x27;s own certainty" in html and "80%" in html
    assert "The second model&#x27;s review" in html and "70%" in html
    assert 'aria-valuenow="100"' in html and "Backed by a cited source from your knowledge." in html
    for developer_text in ("self_rating", "evidence_kind", "formula", "grounded_share", "{&#x27;", "{'", "0.8}"):
        assert developer_text not in html


def test_penalties_are_said_in_points(client, scene):
    html = _details(client, scene, {"evidence": 1.0, "self_rating": 0.9, "reviewer": 1.0, "penalty": 0.15,
                                    "evidence_kind": "conversational"})
    assert "Rules took off 15 points." in html and "the conversation itself" in html


def test_bars_keep_unknown_numbers_labelled_and_skip_the_rest():
    bars = confidence_bars({"faq_similarity": 0.93, "value": 0.93, "some_new_part": 1.7, "flag": True, "x": "text"})
    assert [(b["label"], b["percent"]) for b in bars] == [("How close the FAQ question is", 93),
                                                         ("Some new part", 100)]
    assert confidence_bars("not a dict") == []


# --- the "no provider" banner -----------------------------------------------------------------------

def _pages(scene):
    w = scene.workspace.slug
    return [reverse("conversations:inbox", args=[w]), reverse("conversations:thread", args=[w, scene.thread.pk])]


def test_banner_on_inbox_thread_and_sandbox_while_no_provider(client, scene, settings):
    settings.META_SANDBOX = True
    LLMProvider.objects.filter(workspace=scene.workspace).delete()
    client.force_login(scene.admin)
    for url in [*_pages(scene), reverse("conversations:sandbox", args=[scene.workspace.slug])]:
        html = client.get(url).content.decode()
        assert "Sidekick cannot draft replies yet" in html, url
        assert reverse("integrations:llm_providers", args=[scene.workspace.slug]) in html, url
    client.force_login(scene.setter)
    html = client.get(_pages(scene)[0]).content.decode()
    assert "Ask a workspace admin to add one." in html


def test_no_banner_once_a_default_provider_exists(client, scene, fake_llm):
    fake_llm.provider(scene.workspace, kind="openai")
    client.force_login(scene.setter)
    for url in _pages(scene):
        assert "Sidekick cannot draft replies yet" not in client.get(url).content.decode()


# --- navigation counts ------------------------------------------------------------------------------

def test_counts_for_the_navigation_and_title(client, scene, other_workspace):
    Thread.objects.filter(pk=scene.thread.pk).update(unread_count=3)
    second = Thread.objects.create(workspace=scene.workspace, channel=scene.channel,
                                   contact=scene.contact.__class__.objects.create(
                                       workspace=scene.workspace, channel=scene.channel, external_id="77"))
    escalations.escalation_open(thread=second, reason_code="human_requested")  # raises needs_human
    client.force_login(scene.setter)
    url = reverse("conversations:nav_counts", args=[scene.workspace.slug])
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    html = response.content.decode()
    assert 'data-attention="2"' in html and 'data-unread-messages="3"' in html and 'data-escalations="1"' in html
    assert 'id="nav-count-inbox" class="nav-count" hx-swap-oob="true">2' in html
    assert response["Cache-Control"].startswith("max-age=0")
    # Session, user, membership, and the two counts: nothing grows with the inbox.
    assert len(ctx.captured_queries) <= 5, [q["sql"] for q in ctx.captured_queries]


def _thread(workspace, channel, external_id, **fields):
    contact = Contact.objects.create(workspace=workspace, channel=channel, external_id=external_id)
    return Thread.objects.create(workspace=workspace, channel=channel, contact=contact, **fields)


def test_mine_counts_open_threads_assigned_to_me_that_need_attention(client, scene, other_workspace):
    from integrations.tests.factories import ChannelFactory

    ws, channel, me, them = scene.workspace, scene.channel, scene.setter, scene.admin
    past, future = timezone.now() - timezone.timedelta(hours=1), timezone.now() + timezone.timedelta(hours=1)
    Thread.objects.filter(pk=scene.thread.pk).update(assigned_to=me, unread_count=2)  # mine: counts
    _thread(ws, channel, "2", assigned_to=me, needs_human=True)  # mine, needs a human: counts
    _thread(ws, channel, "3", assigned_to=me, unread_count=1, status=ThreadStatus.SNOOZED, snoozed_until=past)  # woken
    _thread(ws, channel, "4", assigned_to=me)  # mine but quiet
    _thread(ws, channel, "5", assigned_to=me, unread_count=4, status=ThreadStatus.RESOLVED)
    _thread(ws, channel, "6", assigned_to=me, unread_count=4, status=ThreadStatus.SNOOZED, snoozed_until=future)
    _thread(ws, channel, "7", assigned_to=them, unread_count=5)  # someone else's
    _thread(ws, channel, "8", needs_human=True, unread_count=6)  # unassigned
    # Another workspace's thread never counts, even assigned to me.
    _thread(other_workspace, ChannelFactory(workspace=other_workspace), "9", assigned_to=me, unread_count=7)
    url = reverse("conversations:nav_counts", args=[ws.slug])
    client.force_login(me)
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(url).content.decode()
    assert 'data-mine="3"' in html and 'data-mine-unread-messages="3"' in html
    assert 'data-attention="7"' in html  # the workspace-wide badge is unchanged by assignment
    mine_link = re.search(r'<a id="nav-count-mine"[^>]*>', html).group(0)
    assert f'href="{reverse("conversations:inbox", args=[ws.slug])}?owner=mine"' in mine_link
    assert "hidden" not in mine_link and ">3<span" in html
    # Still one query for every thread count (session, user, membership, threads, escalations).
    assert len(ctx.captured_queries) <= 5, [q["sql"] for q in ctx.captured_queries]
    # The other member sees their own: one thread, and five unread messages on it.
    client.force_login(them)
    html = client.get(url).content.decode()
    assert 'data-mine="1"' in html and 'data-mine-unread-messages="5"' in html


def test_the_mine_badge_is_in_the_sidebar_and_notify_js_alerts_on_my_threads(client, scene):
    client.force_login(scene.setter)
    html = client.get(reverse("conversations:inbox",
                              args=[scene.workspace.slug])).content.decode()
    assert re.search(r'<a id="nav-count-mine" class="nav-count nav-count-mine" href="[^"]*\?owner=mine" hidden>', html)
    quiet = client.get(reverse("conversations:nav_counts", args=[scene.workspace.slug])).content.decode()
    assert re.search(r'<a id="nav-count-mine"[^>]* hidden>0', quiet)
    js = (Path(settings.BASE_DIR) / "static/js/notify.js").read_text()
    assert "dataset.mineUnreadMessages" in js and "New message for you" in js


def test_counts_are_zero_and_hidden_in_a_quiet_workspace(client, scene):
    client.force_login(scene.admin)
    html = client.get(reverse("conversations:nav_counts", args=[scene.workspace.slug])).content.decode()
    assert 'data-attention="0"' in html and 'data-escalations="0"' in html
    assert 'hx-swap-oob="true" hidden>0' in html


def test_counts_need_membership(client, scene, other_workspace):
    client.force_login(scene.setter)
    assert client.get(reverse("conversations:nav_counts", args=[other_workspace.slug])).status_code == 404


def test_sidebar_polls_counts_and_offers_notifications_only_on_a_click(client, scene):
    client.force_login(scene.setter)
    html = client.get(reverse("conversations:inbox", args=[scene.workspace.slug])).content.decode()
    assert reverse("conversations:nav_counts", args=[scene.workspace.slug]) in html
    assert "Turn on browser notifications" in html and "data-sound-toggle" in html
    js = (Path(settings.BASE_DIR) / "static/js/notify.js").read_text()
    # Permission is asked inside the click handler only, never when the page loads.
    assert js.count("requestPermission") == 1
    assert js.index("requestPermission") > js.index('addEventListener("click"')


# --- focus ring -------------------------------------------------------------------------------------

def _luminance(hex_color: str) -> float:
    channels = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_focus_ring_has_at_least_3_to_1_contrast_on_the_page_background():
    css = (Path(settings.BASE_DIR) / "static/css/sidekick.css").read_text()
    rule = re.search(r":focus-visible\s*\{[^}]*outline:\s*(\d+)px solid (#[0-9a-fA-F]{6})", css)
    assert rule, "a solid :focus-visible outline"
    width, color = int(rule.group(1)), rule.group(2)
    ratio = (1.0 + 0.05) / (_luminance(color) + 0.05)  # against white, the light theme's background
    assert width >= 2 and ratio >= 3.0


# --- usage attribution ------------------------------------------------------------------------------

def test_a_setters_follow_up_is_counted_as_theirs_and_sidekicks_replies_as_system(scene, fake_llm):
    from datetime import timedelta

    from conversations import services
    from conversations.pipeline.engine import reply_pipeline_run
    from conversations.tests.pipeline_fixtures import draft_reply, review, screen
    from integrations.llm.models import LLMUsage
    from testing.fake_llm import Reply

    fake_llm.provider(scene.workspace, kind="openai")
    scene.inbound("let me think about it", ago=timedelta(hours=13))
    scene.outbound("Sure, take your time!", ago=timedelta(hours=13))
    fake_llm.queue(Reply.structured(draft_reply("Hi Dana! Still keen on Friday?", intent="small_talk",
                                                confidence=0.97)), Reply.structured(review()))
    services.follow_up_send(thread=scene.thread, actor=scene.setter)
    follow_up_calls = LLMUsage.objects.filter(workspace=scene.workspace)
    assert follow_up_calls.exists() and set(follow_up_calls.values_list("user", flat=True)) == {scene.setter.pk}

    LLMUsage.objects.all().delete()
    message = scene.inbound("Is Friday free?")
    fake_llm.queue(Reply.structured(draft_reply()), Reply.structured(review()), Reply.structured(screen()))
    reply_pipeline_run(message_id=message.pk)
    assert LLMUsage.objects.exists() and set(LLMUsage.objects.values_list("user", flat=True)) == {None}
