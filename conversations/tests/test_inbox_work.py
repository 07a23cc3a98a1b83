"""Working the inbox: assignment, snooze, resolve, reopen (services, the inbound reopen), the status
tabs and owner filters with their counts, bulk actions, and who may do what."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory, UserFactory
from contacts.tests.factories import ContactFactory
from conversations import escalations, services
from conversations.intake import webhook_event_process
from conversations.models import (
    ActionKind,
    Decision,
    Escalation,
    EscalationStatus,
    ReplyDraft,
    SidekickActionLog,
    Thread,
    ThreadStatus,
)
from conversations.selectors import InboxFilters, inbox_tab_counts, inbox_threads
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.models import WebhookEvent
from integrations.tests import payloads as p
from integrations.tests.factories import ChannelFactory

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


def _thread(channel, *, minutes_ago=0, name="Dana", **fields):
    contact = ContactFactory(channel=channel, display_name=name)
    at = timezone.now() - timedelta(minutes=minutes_ago)
    thread = ThreadFactory(contact=contact, last_message_at=at, last_inbound_at=at, **fields)
    InboundMessageFactory(thread=thread, sent_at=at)
    return thread


def _logged(thread, action):
    return list(SidekickActionLog.objects.filter(thread=thread, action=action))


# --- Services ----------------------------------------------------------------------------------------

def test_assign_to_a_member_is_logged_once(setter, channel):
    colleague = MembershipFactory(workspace=setter.workspace)
    thread = _thread(channel)
    assert services.thread_assign(thread=thread, assignee=colleague.user, actor=setter.user)
    assert not services.thread_assign(thread=thread, assignee=colleague.user, actor=setter.user)  # no change
    thread.refresh_from_db()
    assert thread.assigned_to == colleague.user and thread.assigned_at is not None
    [log] = _logged(thread, ActionKind.ASSIGNED)
    assert log.actor == setter.user and colleague.user.email in log.result
    assert services.thread_assign(thread=thread, assignee=None, actor=setter.user)
    thread.refresh_from_db()
    assert thread.assigned_to is None and thread.assigned_at is None


def test_assign_to_someone_outside_the_workspace_is_refused(setter, channel):
    thread = _thread(channel)
    stranger = MembershipFactory().user  # a member of another workspace
    for outsider in (stranger, UserFactory()):
        with pytest.raises(services.AssignmentRefused):
            services.thread_assign(thread=thread, assignee=outsider, actor=setter.user)
    thread.refresh_from_db()
    assert thread.assigned_to is None and not _logged(thread, ActionKind.ASSIGNED)


def test_snooze_resolve_reopen(setter, channel):
    thread = _thread(channel)
    with pytest.raises(services.SnoozeRefused):
        services.thread_snooze(thread=thread, until=timezone.now() - timedelta(minutes=1), actor=setter.user)
    until = timezone.now() + timedelta(hours=2)
    assert services.thread_snooze(thread=thread, until=until, actor=setter.user)
    thread.refresh_from_db()
    assert (thread.status, thread.snoozed_until) == (ThreadStatus.SNOOZED, until)
    assert services.thread_resolve(thread=thread, actor=setter.user)
    assert not services.thread_resolve(thread=thread, actor=setter.user)  # a repeated "e" changes nothing
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.RESOLVED and thread.resolved_by == setter.user
    assert thread.snoozed_until is None and thread.resolved_at is not None
    assert services.thread_reopen(thread=thread, actor=setter.user)
    assert not services.thread_reopen(thread=thread, actor=setter.user)
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN
    assert [len(_logged(thread, a)) for a in (ActionKind.SNOOZED, ActionKind.RESOLVED, ActionKind.REOPENED)] == [1, 1, 1]


def test_resolving_clears_needs_human_and_closes_the_escalation(setter, channel):
    thread = _thread(channel)
    escalations.escalation_open(thread=thread, reason_code="low_confidence")
    services.thread_resolve(thread=thread, actor=setter.user)
    thread.refresh_from_db()
    assert not thread.needs_human
    escalation = Escalation.objects.get(thread=thread)
    assert escalation.status == EscalationStatus.RESOLVED and escalation.resolved_by == setter.user


def test_an_escalation_reopens_a_resolved_thread(setter, channel):
    thread = _thread(channel)
    services.thread_resolve(thread=thread, actor=setter.user)
    escalations.escalation_open(thread=thread, reason_code="send_failed")
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN and thread.needs_human
    assert thread.pk in _ids(setter.workspace, tab="needs_human")


def _deliver_text(channel, text, mid):
    event = WebhookEvent.objects.create(body=json.dumps(p.envelope(channel, p.text(channel, "17841", text, mid=mid)))
                                        .encode(), signed_by="instagram")
    webhook_event_process(event_id=event.pk)


@pytest.mark.parametrize("status", [ThreadStatus.RESOLVED, ThreadStatus.SNOOZED])
def test_a_new_inbound_message_reopens_the_thread(setter, status):
    channel = ChannelFactory(workspace=setter.workspace)
    _deliver_text(channel, "Hi there", "mid.first")
    thread = Thread.objects.get(channel=channel)
    if status == ThreadStatus.RESOLVED:
        services.thread_resolve(thread=thread, actor=setter.user)
    else:
        services.thread_snooze(thread=thread, until=timezone.now() + timedelta(days=1), actor=setter.user)
    _deliver_text(channel, "Hi there", "mid.first")  # a duplicate delivery is not a new message
    thread.refresh_from_db()
    assert thread.status == status
    _deliver_text(channel, "One more question", "mid.second")
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN and thread.snoozed_until is None


# --- Tabs, owner filters and their counts --------------------------------------------------------------

def _ids(workspace, **filters):
    return {t.pk for t in inbox_threads(workspace=workspace, filters=InboxFilters(**filters)).threads}


def test_tabs_and_owner_filters_with_counts(setter, channel):
    me, ws = setter.user, setter.workspace
    colleague = MembershipFactory(workspace=ws).user
    now = timezone.now()
    open_mine = _thread(channel, assigned_to=me)
    open_theirs = _thread(channel, assigned_to=colleague, needs_human=True, needs_human_reason="crisis")
    open_nobody = _thread(channel)
    snoozed = _thread(channel, status=ThreadStatus.SNOOZED, snoozed_until=now + timedelta(hours=1), assigned_to=me)
    woken = _thread(channel, status=ThreadStatus.SNOOZED, snoozed_until=now - timedelta(minutes=1), needs_human=True)
    resolved = _thread(channel, status=ThreadStatus.RESOLVED)
    other_ws = _thread(ChannelFactory())  # never listed nor counted
    assert _ids(ws) == {open_mine.pk, open_theirs.pk, open_nobody.pk, woken.pk}  # a past snooze counts as open
    assert _ids(ws, tab="needs_human") == {open_theirs.pk, woken.pk}
    assert _ids(ws, tab="snoozed") == {snoozed.pk}
    assert _ids(ws, tab="resolved") == {resolved.pk}
    assert _ids(ws, owner="mine", user_id=me.pk) == {open_mine.pk}
    assert _ids(ws, owner="mine", user_id=me.pk, tab="snoozed") == {snoozed.pk}
    assert _ids(ws, owner="unassigned") == {open_nobody.pk, woken.pk}
    assert other_ws.pk not in _ids(ws, tab="")
    assert inbox_tab_counts(workspace=ws, filters=InboxFilters()) == {
        "open": 4, "needs_human": 2, "snoozed": 1, "resolved": 1}
    assert inbox_tab_counts(workspace=ws, filters=InboxFilters(owner="mine", user_id=me.pk)) == {
        "open": 1, "needs_human": 0, "snoozed": 1, "resolved": 0}


def test_removing_a_member_unassigns_their_threads_with_a_log_row(setter, channel):
    from accounts.services import member_remove

    ws = setter.workspace
    admin = AdminMembershipFactory(workspace=ws).user
    leaving = MembershipFactory(workspace=ws)
    theirs = _thread(channel, assigned_to=leaving.user)
    theirs_resolved = _thread(channel, status=ThreadStatus.RESOLVED, assigned_to=leaving.user)
    mine = _thread(channel, assigned_to=setter.user)
    elsewhere = ThreadFactory(assigned_to=leaving.user)  # the same person in another workspace keeps it
    MembershipFactory(workspace=elsewhere.workspace, user=leaving.user)
    assert _ids(ws, owner="unassigned") == set()

    member_remove(membership=leaving, actor=admin)

    assert _ids(ws, owner="unassigned") == {theirs.pk}
    assert _ids(ws, owner="unassigned", tab="resolved") == {theirs_resolved.pk}
    assert inbox_tab_counts(workspace=ws, filters=InboxFilters(owner="unassigned")) == {
        "open": 1, "needs_human": 0, "snoozed": 0, "resolved": 1}
    for thread in (theirs, theirs_resolved):
        thread.refresh_from_db()
        assert thread.assigned_to is None and thread.assigned_at is None
        [log] = _logged(thread, ActionKind.ASSIGNED)
        assert log.actor == admin and leaving.user.email in log.result and "removed" in log.result
    mine.refresh_from_db()
    elsewhere.refresh_from_db()
    assert mine.assigned_to == setter.user and not _logged(mine, ActionKind.ASSIGNED)
    assert elsewhere.assigned_to == leaving.user and not _logged(elsewhere, ActionKind.ASSIGNED)


def test_tab_counts_stop_past_the_cap(client, setter, channel, monkeypatch):
    from conversations import selectors

    monkeypatch.setattr(selectors, "INBOX_COUNT_CAP", 3)
    for _ in range(4):
        _thread(channel, status=ThreadStatus.RESOLVED)
    for _ in range(3):
        _thread(channel)
    assert inbox_tab_counts(workspace=setter.workspace, filters=InboxFilters()) == {
        "open": 3, "needs_human": 0, "snoozed": 0, "resolved": 4}
    tabs = {t["value"]: t["count_label"]
            for t in client.get(reverse("conversations:inbox", args=[setter.workspace.slug])).context["tabs"]}
    assert tabs == {"open": "3", "needs_human": "0", "snoozed": "0", "resolved": "3+"}


def test_open_tab_pages_through_open_and_woken_threads_in_order(setter, channel):
    ws = setter.workspace
    past = timezone.now() - timedelta(minutes=1)
    threads = [_thread(channel, minutes_ago=n, **({"status": ThreadStatus.SNOOZED, "snoozed_until": past}
                                                  if n % 2 else {})) for n in range(30)]
    first = inbox_threads(workspace=ws, filters=InboxFilters())
    second = inbox_threads(workspace=ws, filters=InboxFilters(), cursor=first.next_cursor)
    assert [t.pk for t in first.threads + second.threads] == [t.pk for t in threads]
    assert second.next_cursor is None


def test_inbox_page_shows_tabs_counts_owner_reason_and_pending_draft(client, setter, channel):
    thread = _thread(channel, name="Nina", assigned_to=setter.user, needs_human=True, needs_human_reason="legal")
    ReplyDraft.objects.create(workspace=setter.workspace, thread=thread, text="Hi", decision=Decision.DRAFT_SAVED)
    _thread(channel, name="Resolved Rita", status=ThreadStatus.RESOLVED)
    response = client.get(reverse("conversations:inbox", args=[setter.workspace.slug]))
    html = response.content.decode()
    assert "Nina" in html and "Resolved Rita" not in html
    assert "Draft waiting" in html and "A legal matter" in html and ">You</span>" in html
    tabs = {t["value"]: t["count"] for t in response.context["tabs"]}
    assert tabs == {"open": 1, "needs_human": 1, "snoozed": 0, "resolved": 1}
    resolved = client.get(reverse("conversations:inbox", args=[setter.workspace.slug]), {"status": "resolved"})
    assert "Resolved Rita" in resolved.content.decode() and "Nina" not in resolved.content.decode()


# --- Views: roles, tenancy, bulk ---------------------------------------------------------------------

def _post(client, setter, thread, name, data=None, **extra):
    return client.post(reverse(f"conversations:{name}", args=[setter.workspace.slug, thread.pk]), data or {}, **extra)


@pytest.mark.parametrize("role", ["setter", "admin"])
def test_setters_and_admins_assign_snooze_resolve_and_reopen(client, role):
    member = (MembershipFactory if role == "setter" else AdminMembershipFactory)()
    client.force_login(member.user)
    thread = _thread(ChannelFactory(workspace=member.workspace))
    response = _post(client, member, thread, "thread_assign", {"assignee": "me"}, **HTMX)
    assert response.status_code == 200 and "Assigned to you" in response.content.decode()
    assert "inbox-changed" in response["HX-Trigger"]
    _post(client, member, thread, "thread_snooze", {"snooze": "1h"}, **HTMX)
    thread.refresh_from_db()
    assert thread.assigned_to == member.user and thread.status == ThreadStatus.SNOOZED
    assert timedelta(minutes=59) < thread.snoozed_until - timezone.now() <= timedelta(hours=1)
    _post(client, member, thread, "thread_done")
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.RESOLVED
    _post(client, member, thread, "thread_reopen")
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN


def test_view_refuses_an_assignee_outside_the_workspace(client, setter, channel):
    thread = _thread(channel)
    stranger = MembershipFactory().user
    response = _post(client, setter, thread, "thread_assign", {"assignee": stranger.pk}, **HTMX)
    assert "only be assigned to members" in response.content.decode()
    thread.refresh_from_db()
    assert thread.assigned_to is None


def test_snooze_in_the_past_is_refused(client, setter, channel):
    thread = _thread(channel)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = _post(client, setter, thread, "thread_snooze", {"snooze": "custom", "until": past}, **HTMX)
    assert "in the future" in response.content.decode()
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN


def test_thread_actions_on_another_workspaces_thread_are_404(client, setter):
    foreign = _thread(ChannelFactory())
    for name, data in (("thread_assign", {"assignee": "me"}), ("thread_snooze", {"snooze": "1h"}),
                       ("thread_done", {}), ("thread_reopen", {})):
        assert _post(client, setter, foreign, name, data).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == ThreadStatus.OPEN and foreign.assigned_to is None


def test_thread_actions_need_a_login_and_a_membership(client, setter, channel):
    thread = _thread(channel)
    client.logout()
    assert _post(client, setter, thread, "thread_done").status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert _post(client, setter, thread, "thread_done").status_code == 404
    thread.refresh_from_db()
    assert thread.status == ThreadStatus.OPEN


def test_bulk_actions_touch_only_this_workspaces_rows(client, setter, channel):
    mine = [_thread(channel, minutes_ago=n) for n in range(3)]
    foreign = _thread(ChannelFactory())
    url = reverse("conversations:inbox_bulk", args=[setter.workspace.slug])
    ids = [t.pk for t in mine] + [foreign.pk]
    response = client.post(url, {"ids": ids, "action": "assign_me"}, **HTMX)
    assert response.status_code == 200 and "3 conversations updated" in response.content.decode()
    assert Thread.objects.filter(assigned_to=setter.user).count() == 3
    client.post(url, {"ids": ids, "action": "snooze", "snooze": "tomorrow"})
    assert Thread.objects.filter(status=ThreadStatus.SNOOZED).count() == 3
    response = client.post(url, {"ids": ids[:2] + [foreign.pk], "action": "resolve", "status": "snoozed"})
    assert response.status_code == 302 and "status=snoozed" in response["Location"]
    assert set(Thread.objects.filter(status=ThreadStatus.RESOLVED).values_list("pk", flat=True)) == set(ids[:2])
    foreign.refresh_from_db()
    assert (foreign.status, foreign.assigned_to) == (ThreadStatus.OPEN, None)
    assert not SidekickActionLog.objects.filter(thread=foreign).exists()


def test_bulk_assign_to_a_member_and_refusals(client, setter, channel):
    colleague = MembershipFactory(workspace=setter.workspace).user
    stranger = MembershipFactory().user
    thread = _thread(channel)
    url = reverse("conversations:inbox_bulk", args=[setter.workspace.slug])
    response = client.post(url, {"ids": [thread.pk], "action": "assign", "assignee": stranger.pk}, **HTMX)
    assert "only be assigned to members" in response.content.decode()
    client.post(url, {"ids": [thread.pk], "action": "assign", "assignee": colleague.pk}, **HTMX)
    thread.refresh_from_db()
    assert thread.assigned_to == colleague
    response = client.post(url, {"action": "resolve"}, **HTMX)  # nothing selected
    assert "Select conversations" in response.content.decode()
    response = client.post(url, {"ids": ["x1"], "action": "resolve"}, **HTMX)
    assert "Select conversations" in response.content.decode()


def test_split_view_fragment_and_the_thread_page_alone(client, setter, channel):
    thread = _thread(channel, name="Pane Paula")
    url = reverse("conversations:thread", args=[setter.workspace.slug, thread.pk])
    pane = client.get(url, HTTP_HX_TARGET="thread-pane", **HTMX)
    html = pane.content.decode()
    assert pane.status_code == 200 and "Pane Paula" in html and 'id="composer"' in html
    assert "<html" not in html and 'data-shortcut="resolve"' in html
    page = client.get(url).content.decode()
    assert "<html" in page and "Pane Paula" in page and "js/inbox.js" in page
    assert client.get(reverse("conversations:thread", args=[setter.workspace.slug, _thread(ChannelFactory()).pk]),
                      HTTP_HX_TARGET="thread-pane", **HTMX).status_code == 404


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_a_thread_page_loaded_in_full_shows_the_list_beside_it(client, setter, channel):
    thread = _thread(channel, name="Pane Paula")
    other = _thread(channel, name="Listed Lena", minutes_ago=5)
    url = reverse("conversations:thread", args=[setter.workspace.slug, thread.pk])
    html = client.get(url).content.decode()
    # The split layout, the thread in its pane (CSS shows the list beside it from 1024 px, the thread alone below).
    assert 'class="inbox-split has-thread"' in html and 'id="thread-list"' in html
    assert f'data-thread-id="{other.pk}"' in html and "Listed Lena" in html
    pane = html.split('id="thread-pane"', 1)[1]
    assert "Pane Paula" in pane and 'id="composer"' in pane and 'data-shortcut="resolve"' in pane
    assert "pane-empty" not in pane
    assert "<title>Pane Paula" in html  # the thread's title, not the inbox's
    assert "{#" not in html and "#}" not in html  # no template comment leaks into the page
    # The list's queries do not grow with its rows.
    few = _queries(client, url)
    for i in range(30):
        _thread(channel, name=f"Row {i}", minutes_ago=10 + i, assigned_to=setter.user if i % 2 else None)
    assert _queries(client, url) == few
