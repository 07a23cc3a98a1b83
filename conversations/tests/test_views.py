"""Inbox and thread pages: ordering, filters, search, keyset pages, HTMX fragments, takeover, replies."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from contacts.models import Stage
from contacts.tests.factories import ContactFactory
from conversations import escalations
from conversations.models import Direction, Message, SenderKind, Thread
from conversations.selectors import Cursor
from conversations.tests.factories import InboundMessageFactory, OutboundMessageFactory, ThreadFactory
from integrations.tests.factories import ChannelFactory, MessengerChannelFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def setter(client):
    membership = MembershipFactory()
    client.force_login(membership.user)
    return membership


@pytest.fixture
def channel(setter):
    return ChannelFactory(workspace=setter.workspace)


def _thread(channel, *, minutes_ago=0, **contact_fields):
    contact = ContactFactory(channel=channel, **contact_fields)
    at = timezone.now() - timedelta(minutes=minutes_ago)
    thread = ThreadFactory(contact=contact, last_message_at=at, last_inbound_at=at)
    InboundMessageFactory(thread=thread, sent_at=at)
    return thread


def _inbox(client, setter, **params):
    return client.get(reverse("conversations:inbox", args=[setter.workspace.slug]), params)


def test_inbox_lists_threads_newest_first_with_markers(client, setter, channel):
    old = _thread(channel, minutes_ago=30, display_name="Old Olga")
    new = _thread(channel, minutes_ago=1, display_name="New Nina", stage=Stage.QUALIFIED, lead_score=77)
    Thread.objects.filter(pk=new.pk).update(unread_count=2, needs_human=True, needs_human_reason="window_closed")
    response = _inbox(client, setter)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("New Nina") < html.index("Old Olga")
    assert "Qualified" in html and "Score 77" in html and "Needs human" in html and "2 new" in html
    assert f'href="/w/{setter.workspace.slug}/inbox/{old.pk}/"' in html


def test_inbox_never_shows_another_workspaces_threads(client, setter, channel):
    _thread(channel, display_name="Mine")
    _thread(ChannelFactory(), display_name="Someone Else's Lead")
    html = _inbox(client, setter).content.decode()
    assert "Mine" in html and "Someone Else" not in html


def test_inbox_filters(client, setter, channel):
    messenger = MessengerChannelFactory(workspace=setter.workspace)
    insta = _thread(channel, display_name="Insta Ida", stage=Stage.NEW)
    fb = _thread(messenger, display_name="Messenger Max", stage=Stage.BOOKED)
    Thread.objects.filter(pk=insta.pk).update(ai_paused=True)
    Thread.objects.filter(pk=fb.pk).update(needs_human=True)

    def names(**params):
        html = _inbox(client, setter, **params).content.decode()
        return {name for name in ("Insta Ida", "Messenger Max") if name in html}

    assert names() == {"Insta Ida", "Messenger Max"}
    assert names(platform="messenger") == {"Messenger Max"}
    assert names(stage="new") == {"Insta Ida"}
    assert names(needs_human="on") == {"Messenger Max"}
    assert names(ai_paused="on") == {"Insta Ida"}


def test_inbox_search_by_name_and_message_text(client, setter, channel):
    priced = _thread(channel, display_name="Paula")
    InboundMessageFactory(thread=priced, text="What does the coaching programme cost?")
    _thread(channel, display_name="Quentin")

    def names(q):
        html = _inbox(client, setter, q=q).content.decode()
        return {name for name in ("Paula", "Quentin") if name in html}

    assert names("quent") == {"Quentin"}
    assert names("coach") == {"Paula"}  # word prefix in a message
    assert names("programme cost") == {"Paula"}
    assert names("nothing-like-this") == set()
    assert names("%") == set()  # punctuation only: a name search, no text query


def test_search_document_follows_edits_deletes_and_profile_names(client, setter, channel):
    from contacts.models import Contact

    thread = _thread(channel, display_name="", username="")
    message = InboundMessageFactory(thread=thread, text="interested in the yoga retreat")

    def found(q):
        return thread.pk in {t.pk for t in _inbox(client, setter, q=q).context["page"].threads}

    assert found("retreat") and not found("wellbeing")
    Message.objects.filter(pk=message.pk).update(text="interested in the wellbeing weekend")  # an edit
    assert found("wellbeing") and not found("retreat")
    Message.objects.filter(pk=message.pk).update(is_deleted=True, text="")  # unsent
    assert not found("wellbeing")
    Contact.objects.filter(pk=thread.contact_id).update(display_name="Zora Vance", username="zora.v")  # profile
    assert found("zora") and found("vance")


def test_inbox_pages_with_a_keyset_cursor(client, setter, channel):
    for i in range(30):
        _thread(channel, minutes_ago=i, display_name=f"Lead {i:02d}")
    first = _inbox(client, setter).context
    assert len(first["page"].threads) == 25 and first["page"].next_cursor is not None
    second = _inbox(client, setter, after=first["page"].next_cursor.encode()).context
    shown = [t.pk for t in first["page"].threads] + [t.pk for t in second["page"].threads]
    assert len(shown) == len(set(shown)) == 30
    assert second["page"].next_cursor is None
    assert _inbox(client, setter, after="garbage").status_code == 200


def test_cursor_round_trip():
    at = timezone.now()
    assert Cursor.decode(Cursor(at, 42).encode()) == Cursor(at.replace(microsecond=at.microsecond), 42)
    assert Cursor.decode("1.2.3") is None and Cursor.decode(None) is None


def test_inbox_htmx_request_renders_only_the_list(client, setter, channel):
    _thread(channel, display_name="Fragment Fay")
    response = client.get(reverse("conversations:inbox", args=[setter.workspace.slug]), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="thread-list"') and "Fragment Fay" in html
    assert "<html" not in html
    assert "every 4s" in html  # the first page keeps polling
    assert "HX-Request" in response["Vary"]
    restore = client.get(reverse("conversations:inbox", args=[setter.workspace.slug]),
                         HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in restore.content.decode()  # the back button gets the whole page


def _count_queries(fn):
    fn()  # warm up: the first request of a session also writes the session
    with CaptureQueriesContext(connection) as ctx:
        response = fn()
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_inbox_query_count_does_not_grow_with_rows(client, setter, channel):
    for i in range(5):
        _thread(channel, minutes_ago=i, stage=Stage.ENGAGED)
    few = _count_queries(lambda: _inbox(client, setter))
    few_search = _count_queries(lambda: _inbox(client, setter, q="lead", stage="engaged"))
    for i in range(45):
        _thread(channel, minutes_ago=10 + i, stage=Stage.ENGAGED)
    assert _count_queries(lambda: _inbox(client, setter)) == few
    assert _count_queries(lambda: _inbox(client, setter, q="lead", stage="engaged")) == few_search


def test_search_finds_recent_and_old_matches(client, setter, channel, monkeypatch):
    from conversations import selectors

    monkeypatch.setattr(selectors, "SEARCH_RECENT_WINDOW", 5)
    for i in range(12):
        thread = _thread(channel, minutes_ago=i, display_name=f"Common {i}")
        InboundMessageFactory(thread=thread, text="price please")
    old = _thread(channel, minutes_ago=500, display_name="Old Rarity")
    InboundMessageFactory(thread=old, text="is the deposit refundable")
    page = _inbox(client, setter, q="price").context["page"]  # found among the newest threads
    assert len(page.threads) == 12
    page = _inbox(client, setter, q="refund").context["page"]  # beyond the window: through the index
    assert [t.pk for t in page.threads] == [old.pk]
    monkeypatch.setattr(selectors, "INBOX_PAGE_SIZE", 4)
    assert len(selectors.inbox_threads(workspace=setter.workspace, filters=selectors.InboxFilters(q="price"),
                                       limit=4).threads) == 4


# --- thread ---------------------------------------------------------------------------------------

def _thread_url(setter, thread, name="conversations:thread"):
    return reverse(name, args=[setter.workspace.slug, thread.pk])


def test_thread_shows_messages_attachments_and_who_sent_what(client, setter, channel):
    thread = _thread(channel, display_name="Ana")
    Thread.objects.filter(pk=thread.pk).update(unread_count=3)
    InboundMessageFactory(thread=thread, text="", attachments=[
        {"type": "image", "url": "https://cdn.example/pic.jpg", "title": None, "payload": {}},
        {"type": "file", "url": "javascript:alert(1)", "title": "brochure.pdf", "payload": {}},
        {"type": "story_mention", "url": None, "title": None, "payload": {}},
    ])
    OutboundMessageFactory(thread=thread, text="Auto answer", sender_kind=SenderKind.AI)
    OutboundMessageFactory(thread=thread, text="Typed by me", sender_kind=SenderKind.SETTER, sent_by=setter.user)
    OutboundMessageFactory(thread=thread, text="Sent by someone since removed", sender_kind=SenderKind.SETTER,
                           sent_by=None, disposition="edited")
    OutboundMessageFactory(thread=thread, text="From the Page inbox", sender_kind=SenderKind.META_INBOX,
                           idempotency_key=None, send_status=None)
    html = client.get(_thread_url(setter, thread)).content.decode()
    assert '<img src="https://cdn.example/pic.jpg"' in html
    assert "javascript:" not in html and "File: brochure.pdf" in html and "Story mention" in html
    assert "Sidekick (automatic)" in html and "Business outside Sidekick" in html
    assert (setter.user.full_name or setter.user.email) in html
    assert "A setter · AI draft edited" in html
    thread.refresh_from_db()
    assert thread.unread_count == 0  # opening the thread reads it


def test_thread_of_another_workspace_is_404(client, setter, channel):
    other = _thread(ChannelFactory())
    assert client.get(_thread_url(setter, other)).status_code == 404
    assert client.post(_thread_url(setter, other, "conversations:thread_takeover")).status_code == 404


def test_thread_poll_renders_only_the_messages(client, setter, channel):
    thread = _thread(channel)
    InboundMessageFactory(thread=thread, text="Newest words")
    response = client.get(_thread_url(setter, thread), HTTP_HX_TARGET="thread-live", **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="thread-live"') and "Newest words" in html
    assert "composer" not in html


def test_thread_query_count_does_not_grow_with_messages(client, setter, channel):
    thread = _thread(channel)
    for _ in range(4):
        OutboundMessageFactory(thread=thread, sender_kind=SenderKind.SETTER, sent_by=setter.user)
    few = _count_queries(lambda: client.get(_thread_url(setter, thread)))
    for n in range(45):  # some failed, with the error the page shows beside them
        OutboundMessageFactory(thread=thread, sender_kind=SenderKind.SETTER, sent_by=MembershipFactory(
            workspace=setter.workspace).user, **({"send_status": "failed", "last_error": "Graph said no",
                                                   "error_code": "100"} if n % 3 == 0 else {}))
    many = _count_queries(lambda: client.get(_thread_url(setter, thread)))
    assert few == many
    poll = _count_queries(lambda: client.get(_thread_url(setter, thread), HTTP_HX_TARGET="thread-live", **HTMX))
    assert poll <= many


def test_thread_older_messages_page(client, setter, channel):
    thread = _thread(channel)
    start = timezone.now() - timedelta(hours=2)
    for i in range(60):
        InboundMessageFactory(thread=thread, text=f"numbered {i:02d}", sent_at=start + timedelta(seconds=i))
    latest = client.get(_thread_url(setter, thread)).context
    assert latest["more"] and len(latest["thread_messages"]) == 50
    first_shown = latest["thread_messages"][0]
    older = client.get(_thread_url(setter, thread), {"before": first_shown.pk}).context
    assert all(m.sent_at <= first_shown.sent_at for m in older["thread_messages"])
    assert first_shown.pk not in {m.pk for m in older["thread_messages"]}
    for junk in ("²", "x1", "-5", ""):  # not a message id: the latest page, never a 500
        assert client.get(_thread_url(setter, thread), {"before": junk}).status_code == 200


def test_take_over_and_resume_are_audited_and_idempotent(client, setter, channel):
    thread = _thread(channel)
    url = _thread_url(setter, thread, "conversations:thread_takeover")
    response = client.post(url, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "thread-updated"
    assert "Resume AI" in response.content.decode()
    client.post(url, **HTMX)
    thread.refresh_from_db()
    assert thread.ai_paused and thread.ai_paused_at is not None
    assert AuditEvent.objects.filter(verb="thread.takeover", actor=setter.user).count() == 1
    response = client.post(_thread_url(setter, thread, "conversations:thread_resume"))
    assert response.status_code == 302
    thread.refresh_from_db()
    assert not thread.ai_paused
    assert AuditEvent.objects.filter(verb="thread.ai_resumed").count() == 1


def test_only_the_member_who_took_the_thread_over_is_told_they_have_it(client, setter, channel):
    thread = _thread(channel)
    colleague = MembershipFactory(workspace=setter.workspace, user__full_name="Cleo Colleague")
    client.post(_thread_url(setter, thread, "conversations:thread_takeover"))
    thread.refresh_from_db()
    assert thread.ai_paused_by == setter.user
    assert "You have this conversation" in client.get(_thread_url(setter, thread)).content.decode()

    client.force_login(colleague.user)
    page = client.get(_thread_url(setter, thread)).content.decode()
    assert "You have this conversation" not in page
    assert f"{setter.user.full_name or setter.user.email} has this conversation" in page

    # Sidekick paused itself (an escalation): nobody has it until someone replies.
    client.post(_thread_url(setter, thread, "conversations:thread_resume"))
    thread.refresh_from_db()
    assert thread.ai_paused_by is None
    escalations.escalation_open(thread=thread, reason_code="human_requested")
    page = client.get(_thread_url(setter, thread)).content.decode()
    assert "has this conversation" not in page and "Sidekick is not answering here" in page
    client.post(_thread_url(setter, thread, "conversations:thread_reply"), {"text": "Cleo here, I'll help."})
    thread.refresh_from_db()
    assert thread.ai_paused_by == colleague.user


def test_mark_handled_clears_needs_human(client, setter, channel):
    thread = _thread(channel)
    Thread.objects.filter(pk=thread.pk).update(needs_human=True, needs_human_reason="send_failed")
    client.post(_thread_url(setter, thread, "conversations:thread_resolve"), **HTMX)
    thread.refresh_from_db()
    assert not thread.needs_human and thread.needs_human_reason == ""
    assert AuditEvent.objects.filter(verb="thread.needs_human_cleared", data__reason="send_failed").exists()


def test_setter_reply_creates_an_outbound_setter_message(client, setter, channel):
    thread = _thread(channel)
    response = client.post(_thread_url(setter, thread, "conversations:thread_reply"), {"text": "Hi, Ana here"}, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "thread-updated"
    message = Message.objects.get(thread=thread, direction=Direction.OUT)
    assert (message.sender_kind, message.sent_by, message.text) == (SenderKind.SETTER, setter.user, "Hi, Ana here")
    assert message.send_status == "pending"


def test_reply_refused_outside_the_window_says_why(client, setter, channel):
    thread = _thread(channel, minutes_ago=60 * 30)
    page = client.get(_thread_url(setter, thread)).content.decode()
    assert "You cannot reply here now: Messaging window closed." in page
    response = client.post(_thread_url(setter, thread, "conversations:thread_reply"), {"text": "late"}, **HTMX)
    assert "Messaging window closed" in response.content.decode()
    assert "HX-Trigger" not in response
    assert not Message.objects.filter(thread=thread, direction=Direction.OUT).exists()


def test_messenger_reply_after_24h_uses_human_agent_when_the_page_has_it(client, setter):
    channel = MessengerChannelFactory(workspace=setter.workspace, human_agent_enabled=True)
    thread = _thread(channel, minutes_ago=60 * 30)
    page = client.get(_thread_url(setter, thread)).content.decode()
    assert "Human Agent tag" in page
    client.post(_thread_url(setter, thread, "conversations:thread_reply"), {"text": "Sorry for the wait"}, **HTMX)
    assert Message.objects.filter(thread=thread, sender_kind=SenderKind.SETTER).exists()


def test_reply_refused_to_an_opted_out_contact(client, setter, channel):
    thread = _thread(channel, opted_out=True)
    client.post(_thread_url(setter, thread, "conversations:thread_reply"), {"text": "hello?"}, **HTMX)
    assert not Message.objects.filter(thread=thread, direction=Direction.OUT).exists()
