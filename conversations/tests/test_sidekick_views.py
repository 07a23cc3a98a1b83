"""Thread panel and drafts, the Sidekick page and its settings: roles, HTMX fragments, escaping, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import escalations
from conversations.models import (
    ActionKind,
    Decision,
    DraftDisposition,
    Message,
    ReplyDraft,
    SenderKind,
    SidekickActionLog,
    SidekickSettings,
)
from conversations.tests.factories import ThreadFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_draft(scene, thread=None, **fields) -> ReplyDraft:
    thread = thread or scene.thread
    values = {
        "text": "Hi Dana! Friday at 3pm works.", "confidence": 0.62,
        "confidence_parts": {"model": 0.9, "retrieval": 0.4, "value": 0.62},
        "decision": Decision.DRAFT_SAVED, "reason_code": "below_threshold", "model": "gpt-test",
        "reasons": {"rules": [{"rule": "blacklist", "reason": "mentions <b>refunds</b>", "blocking": False,
                               "penalty": 0.1}],
                    "overseer": {"verdict": "approve", "reasons": ["Accurate <i>and</i> friendly."]}, "notes": []},
        "cited_chunks": [{"source": "document", "document_title": "Pricing <script>x</script>", "page": 2,
                          "section": "Coaching", "text": "Coaching is $200 per session."}],
    }
    values.update(fields)
    return ReplyDraft.objects.create(workspace=scene.workspace, thread=thread, **values)


def login(client, user):
    client.force_login(user)


def thread_url(scene):
    return reverse("conversations:thread", args=[scene.workspace.slug, scene.thread.pk])


# --- Thread panel and drafts ------------------------------------------------------------------------

def test_thread_shows_pending_draft_and_its_confidence(client, scene):
    scene.inbound("Is Friday free?")
    make_draft(scene)
    login(client, scene.setter)
    html = client.get(thread_url(scene)).content.decode()
    assert "Pending draft" in html and "Hi Dana! Friday at 3pm works." in html
    assert "Approve and send" in html and "Edit and send" in html and "Discard" in html
    assert 'value="0.62"' in html  # the confidence meter


def test_approve_sends_the_draft_as_the_setter_recorded_as_approved(client, scene):
    scene.inbound("Is Friday free?")
    draft = make_draft(scene)
    login(client, scene.setter)
    response = client.post(reverse("conversations:draft_approve", args=[scene.workspace.slug, draft.pk]), **HTMX)
    # The messages and the thread's controls (its needs-human line) reload.
    assert response.status_code == 200 and response["HX-Trigger"] == "thread-updated, draft-handled"
    assert "Nothing waiting for you." in response.content.decode()
    draft.refresh_from_db()
    assert draft.disposition == DraftDisposition.APPROVED and draft.disposition_by == scene.setter
    message = Message.objects.get(thread=scene.thread, sender_kind=SenderKind.SETTER)
    assert message.text == "Hi Dana! Friday at 3pm works." and message.disposition == "approved"
    # A second click is refused in the panel, not with an error page.
    again = client.post(reverse("conversations:draft_approve", args=[scene.workspace.slug, draft.pk]), **HTMX)
    assert again.status_code == 200 and "already handled" in again.content.decode()


def test_edit_and_send_records_edited_and_pauses_the_ai(client, scene):
    scene.inbound("Is Friday free?")
    draft = make_draft(scene)
    login(client, scene.setter)
    client.post(reverse("conversations:draft_edit", args=[scene.workspace.slug, draft.pk]),
                {"text": "Friday 3pm is yours, Dana!"}, **HTMX)
    draft.refresh_from_db()
    scene.refresh()
    assert draft.disposition == DraftDisposition.EDITED and scene.thread.ai_paused
    assert Message.objects.get(thread=scene.thread, sender_kind=SenderKind.SETTER).text == "Friday 3pm is yours, Dana!"


def test_edit_with_empty_text_keeps_the_draft(client, scene):
    draft = make_draft(scene)
    login(client, scene.setter)
    response = client.post(reverse("conversations:draft_edit", args=[scene.workspace.slug, draft.pk]), {"text": ""},
                           **HTMX)
    assert "Write the message to send" in response.content.decode()
    draft.refresh_from_db()
    assert draft.disposition == ""


def test_discard_records_discarded_without_sending(client, scene):
    draft = make_draft(scene)
    login(client, scene.setter)
    client.post(reverse("conversations:draft_discard", args=[scene.workspace.slug, draft.pk]))
    draft.refresh_from_db()
    assert draft.disposition == DraftDisposition.DISCARDED
    assert not Message.objects.filter(thread=scene.thread, direction="out").exists()


def test_draft_details_show_sources_verdict_and_rule_hits_escaped(client, scene):
    draft = make_draft(scene)
    login(client, scene.setter)
    html = client.get(reverse("conversations:draft_details", args=[scene.workspace.slug, draft.pk]), **HTMX
                      ).content.decode()
    assert "62%" in html and "How well the sources match" in html  # labelled bars (#18), no dict keys
    assert "Pricing &lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert "Approve" in html and "Accurate &lt;i&gt;and&lt;/i&gt; friendly." in html
    assert "blacklist" in html and "mentions &lt;b&gt;refunds&lt;/b&gt;" in html


def test_details_of_an_faq_answer_render(client, scene):
    """FAQ-mode drafts cite {"source": "faq", "question": ...} with no document fields."""
    draft = make_draft(scene)
    ReplyDraft.objects.filter(pk=draft.pk).update(
        decision="faq_answered", cited_chunks=[{"source": "faq", "faq_id": 1, "question": "Do I need a mat?",
                                                "similarity": 1.0}])
    login(client, scene.setter)
    response = client.get(reverse("conversations:draft_details", args=[scene.workspace.slug, draft.pk]), **HTMX)
    assert response.status_code == 200
    assert "FAQ: Do I need a mat?" in response.content.decode()


def test_ai_messages_link_to_their_details(client, scene):
    message = scene.outbound("We have Friday at 3pm.")
    draft = make_draft(scene, decision=Decision.SENT, outbound_message=message, confidence=0.91)
    login(client, scene.setter)
    html = client.get(thread_url(scene)).content.decode()
    assert reverse("conversations:draft_details", args=[scene.workspace.slug, draft.pk]) in html
    assert "91% confident" in html


def test_drafts_of_another_workspace_are_404(client, scene):
    from accounts.tests.factories import MembershipFactory

    draft = make_draft(scene)
    login(client, MembershipFactory().user)
    assert client.get(reverse("conversations:draft_details", args=[scene.workspace.slug, draft.pk])).status_code == 404
    other = MembershipFactory()
    client.force_login(other.user)
    for name in ("draft_details", "draft_approve", "draft_discard"):
        method = client.get if name == "draft_details" else client.post
        assert method(reverse(f"conversations:{name}", args=[other.workspace.slug, draft.pk])).status_code == 404


def test_sidekick_panel_poll_renders_only_the_panel(client, scene):
    make_draft(scene)
    login(client, scene.setter)
    response = client.get(thread_url(scene), HTTP_HX_TARGET="sidekick-panel", **HTMX)
    html = response.content.decode()
    assert 'id="sidekick-panel"' in html and 'id="composer"' not in html


def _thread_queries(client, scene, n_ai):
    for i in range(n_ai):
        message = scene.outbound(f"Reply {i}")
        make_draft(scene, decision=Decision.SENT, outbound_message=message)
        SidekickActionLog.objects.create(workspace=scene.workspace, thread=scene.thread, contact=scene.contact,
                                         action=ActionKind.SENT_REPLY, text=f"Reply {i}", confidence=0.9)
    make_draft(scene)
    client.get(thread_url(scene))  # warm: session and read marker written once
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(thread_url(scene)).status_code == 200
    return len(ctx.captured_queries)


def test_thread_page_queries_do_not_grow_with_ai_messages(client, scene):
    login(client, scene.setter)
    few = _thread_queries(client, scene, 5)
    many = _thread_queries(client, scene, 45)
    assert few == many


# --- Sidekick page and settings ---------------------------------------------------------------------

def _actions(scene, n):
    for i in range(n):
        SidekickActionLog.objects.create(workspace=scene.workspace, thread=scene.thread, contact=scene.contact,
                                         action=ActionKind.SENT_REPLY, text=f"Action {i}", confidence=0.85)


def test_sidekick_page_for_setters_shows_actions_without_admin_controls(client, scene):
    _actions(scene, 12)
    make_draft(scene, confidence=0.73)
    login(client, scene.setter)
    html = client.get(reverse("conversations:sidekick", args=[scene.workspace.slug])).content.decode()
    assert "Action 11" in html and "Action 1<" not in html  # newest 10 only
    assert 'value="0.73"' in html and "Read the prompt" in html
    assert "sidekick/auto/" not in html


def test_sidekick_live_fragment_and_constant_queries(client, scene):
    login(client, scene.admin)
    url = reverse("conversations:sidekick", args=[scene.workspace.slug])
    _actions(scene, 5)
    fragment = client.get(url, HTTP_HX_TARGET="sidekick-live", **HTMX).content.decode()
    assert fragment.strip().startswith('<div id="sidekick-live"') and "<html" not in fragment

    def count():
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        return len(ctx.captured_queries)

    count()
    few = count()
    _actions(scene, 45)
    assert count() == few


def test_admin_switches_auto_mode_and_threshold(client, scene):
    login(client, scene.admin)
    response = client.post(reverse("conversations:sidekick_auto", args=[scene.workspace.slug]),
                           {"threshold": "0.9"}, **HTMX)
    assert response.status_code == 200 and "Auto mode saved." in response.content.decode()
    cfg = SidekickSettings.objects.get(workspace=scene.workspace)
    assert (cfg.auto_send, cfg.threshold) == (False, 0.9)
    bad = client.post(reverse("conversations:sidekick_auto", args=[scene.workspace.slug]), {"threshold": "3"}, **HTMX)
    assert "between 0 and 1" in bad.content.decode() or "0 to 1" in bad.content.decode()


def test_sidekick_settings_save_every_field(client, scene):
    login(client, scene.admin)
    url = reverse("conversations:sidekick_settings", args=[scene.workspace.slug])
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "enabled": "on", "use_human_agent_tag": "on", "threshold": "0.75", "language": "de",
        "blacklist": "refunds\n\n lawsuits ", "business_hours_policy": "within", "business_days": ["0", "2"],
        "opens_at": "08:30", "closes_at": "17:00", "debounce_seconds": "10", "follow_up_after_hours": "12"})
    assert response.status_code == 302
    cfg = SidekickSettings.objects.get(workspace=scene.workspace)
    assert cfg.blacklist == ["refunds", "lawsuits"] and cfg.business_days == [0, 2]
    assert (cfg.auto_send, cfg.use_human_agent_tag, cfg.threshold, cfg.language) == (False, True, 0.75, "de")
    assert (cfg.debounce_seconds, cfg.follow_up_after_hours, cfg.opens_at.hour) == (10, 12, 8)
    invalid = client.post(url, {"threshold": "0.75", "language": "de", "business_hours_policy": "within",
                                "opens_at": "08:30", "closes_at": "17:00", "debounce_seconds": "500",
                                "follow_up_after_hours": "12"})
    assert invalid.status_code == 200
    assert SidekickSettings.objects.get(workspace=scene.workspace).debounce_seconds == 10


def test_other_threads_drafts_do_not_appear_in_the_panel(client, scene):
    other = ThreadFactory(contact__channel=scene.channel)
    make_draft(scene, thread=other, text="For someone else")
    login(client, scene.setter)
    assert "For someone else" not in client.get(thread_url(scene)).content.decode()


def test_follow_up_draft_also_shows_as_pending(client, scene):
    make_draft(scene, kind="follow_up", text="Still keen on Friday?")
    login(client, scene.setter)
    assert "Still keen on Friday?" in client.get(thread_url(scene)).content.decode()



def test_the_thread_controls_reload_without_the_needs_human_line_once_the_draft_is_handled(client, scene):
    scene.inbound("Is Friday free?")
    draft = make_draft(scene)
    escalation = escalations.escalation_open(thread=scene.thread, reason_code="low_confidence", draft=draft)
    login(client, scene.setter)
    controls = client.get(thread_url(scene), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-controls")
    assert 'id="thread-controls"' in controls.content.decode() and "Needs human" in controls.content.decode()
    client.post(reverse("conversations:draft_discard", args=[scene.workspace.slug, draft.pk]), **HTMX)
    escalation.refresh_from_db()
    assert escalation.status == "resolved"
    controls = client.get(thread_url(scene), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-controls").content.decode()
    assert "Needs human" not in controls and "<html" not in controls
