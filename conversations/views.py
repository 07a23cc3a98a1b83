"""Inbox and thread pages. One view serves a full page and, for HTMX, the fragment that changes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.selectors import workspace_members
from accounts.tenancy import scoped_or_404, workspace_required
from conversations import selectors, services
from conversations.forms import AssignForm, BulkForm, InboxFilterForm, ReplyForm, SnoozeForm
from conversations.models import Thread
from conversations.sending import SendRefused
from conversations.sidekick_views import panel_context


def _filters(form: InboxFilterForm, user) -> selectors.InboxFilters:
    if not form.is_valid():
        return selectors.InboxFilters(user_id=user.pk)
    data = form.cleaned_data
    return selectors.InboxFilters(platform=data["platform"], stage=data["stage"], needs_human=data["needs_human"],
                                  ai_paused=data["ai_paused"], q=data["q"], tab=data["status"] or selectors.TAB_OPEN,
                                  owner=data["owner"], user_id=user.pk)


TAB_LABELS = {selectors.TAB_OPEN: "Open", selectors.TAB_NEEDS_HUMAN: "Needs human",
              selectors.TAB_SNOOZED: "Snoozed", selectors.TAB_RESOLVED: "Resolved"}
OWNER_LABELS = {"": "All", selectors.OWNER_MINE: "Mine", selectors.OWNER_UNASSIGNED: "Unassigned"}


def _links(query, name: str, labels: dict, current: str, counts: dict | None = None) -> list[dict]:
    """The tabs (or owner links): each keeps the other filters and starts from the newest page."""
    links = []
    for value, label in labels.items():
        q = query.copy()
        q.pop("after", None)
        q[name] = value
        count = counts.get(value) if counts else None
        links.append({"value": value, "label": label, "query": q.urlencode(), "current": value == current,
                      "count": count, "count_label": "" if count is None else
                      f"{selectors.INBOX_COUNT_CAP:,}+" if count > selectors.INBOX_COUNT_CAP else f"{count:,}"})
    return links


def _inbox_list_context(request, query) -> dict:
    form = InboxFilterForm(query)
    filters = _filters(form, request.user)
    cursor = selectors.Cursor.decode(query.get("after"))
    page = selectors.inbox_threads(workspace=request.workspace, filters=filters, cursor=cursor)
    counts = selectors.inbox_tab_counts(workspace=request.workspace, filters=filters)
    filter_query = query.copy()
    filter_query.pop("after", None)
    filter_query.pop("csrfmiddlewaretoken", None)
    return {
        "form": form,
        "filters": filters,
        "page": page,
        "cursor": cursor,
        "filter_query": filter_query.urlencode(),
        "tabs": _links(filter_query, "status", TAB_LABELS, filters.tab, counts),
        "owners": _links(filter_query, "owner", OWNER_LABELS, filters.owner),
        "now": timezone.now(),
    }


def _fragment(request) -> bool:
    """An HTMX swap wants the fragment; a history restore (back button after hx-push-url) the page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@workspace_required
@vary_on_headers("HX-Request", "HX-Target")
def inbox(request):
    """The list of conversations; on a wide screen the open thread loads beside it (`thread_detail`
    answers an HTMX request for `#thread-pane` with the thread alone)."""
    context = _inbox_list_context(request, request.GET)
    if _fragment(request):
        return render(request, "conversations/inbox.html#thread-list", context)
    context["members"] = workspace_members(workspace=request.workspace)  # the bulk bar's "Assign to…"
    return render(request, "conversations/inbox.html", context)


def _live_context(request, thread: Thread) -> dict:
    before = request.GET.get("before")
    thread_messages, more = selectors.thread_messages(
        thread=thread, before_id=int(before) if before and before.isascii() and before.isdigit() else None)
    # The draft behind each outbound message (AI replies, approved or edited drafts), in one query.
    drafts = selectors.message_drafts(thread=thread, message_ids=[m.pk for m in thread_messages if m.is_outbound])
    for m in thread_messages:
        m.draft = drafts.get(m.pk)
    return {"thread": thread, "thread_messages": thread_messages, "more": more, "paged": before is not None}


@workspace_required
@vary_on_headers("HX-Request", "HX-Target")
def thread_detail(request, thread_id):
    """The conversation. HTMX polls re-render only the message list (`#thread-live`)."""
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    if _fragment(request) and request.htmx.target == "sidekick-panel":
        return render(request, "conversations/sidekick/panel.html", panel_context(thread))
    if _fragment(request) and request.htmx.target == "thread-controls":
        return render(request, "conversations/thread.html#thread-controls", _controls_context(request, thread))
    services.thread_mark_read(thread=thread)
    context = _live_context(request, thread)
    if _fragment(request) and request.htmx.target == "thread-live":
        return render(request, "conversations/thread.html#thread-live", context)
    context.update({"reply_state": selectors.thread_reply_state(thread=thread), "reply_form": ReplyForm()})
    context.update(panel_context(thread))
    context.update(_controls_context(request, thread))
    if _fragment(request) and request.htmx.target == "thread-pane":
        # The split inbox: the thread beside the list (the URL is pushed, so a reload shows the thread page).
        return render(request, "conversations/thread.html#thread-pane", context)
    # A full page load (a reload after the split view pushed the URL, a shared link, a phone): the inbox's
    # split layout with this thread in its pane, the list as the inbox's first page. CSS shows the list
    # beside the thread from 1024 px and the thread alone below (`.inbox-split.has-thread`).
    context.update(_inbox_list_context(request, QueryDict()))
    return render(request, "conversations/inbox.html", context)


def _controls_context(request, thread: Thread) -> dict:
    return {"thread": thread, "members": workspace_members(workspace=request.workspace),
            "snooze_form": SnoozeForm(initial={"snooze": "3h"}), "now": timezone.now()}


def _controls_response(request, thread: Thread, *, trigger: str = "thread-updated"):
    if not request.htmx:
        return redirect("conversations:thread", workspace_slug=request.workspace.slug, thread_id=thread.pk)
    response = render(request, "conversations/thread.html#thread-controls", _controls_context(request, thread))
    response["HX-Trigger"] = trigger
    return response


@workspace_required
@require_POST
def thread_takeover(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    services.thread_takeover(thread=thread, actor=request.user)
    messages.success(request, "You have the conversation: Sidekick will not reply until you resume it.")
    return _controls_response(request, thread)


@workspace_required
@require_POST
def thread_resume(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    services.thread_resume_ai(thread=thread, actor=request.user)
    messages.success(request, "Sidekick is answering this conversation again.")
    return _controls_response(request, thread)


@workspace_required
@require_POST
def thread_resolve(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    services.thread_needs_human_clear(thread=thread, actor=request.user)
    messages.success(request, "Marked as handled.")
    return _controls_response(request, thread)


@workspace_required
@require_POST
def thread_reply(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    form = ReplyForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.setter_reply_send(thread=thread, text=form.cleaned_data["text"], actor=request.user)
            form = ReplyForm()
        except SendRefused as exc:
            error = str(exc)
    else:
        error = "Write a message (up to 4000 characters)."
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("conversations:thread", workspace_slug=request.workspace.slug, thread_id=thread.pk)
    context = {"thread": thread, "reply_form": form, "reply_error": error,
               "reply_state": selectors.thread_reply_state(thread=thread)}
    response = render(request, "conversations/thread.html#composer", context)
    if not error:
        response["HX-Trigger"] = "thread-updated"
    return response


# --- Assignment and status ---------------------------------------------------------------------------

# The list beside the thread (split view) refreshes too: the thread may have left the current tab.
INBOX_CHANGED = "thread-updated, inbox-changed"


def _member(user_id):
    """The user with this id, or None: `services.thread_assign` refuses anyone outside the workspace."""
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


@workspace_required
@require_POST
def thread_assign(request, thread_id):
    """Assign to a member (``assignee`` = user id), to yourself (``assignee=me``) or to nobody (empty)."""
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    if request.POST.get("assignee") == "me":
        assignee = request.user
    else:
        form = AssignForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a member.")
            return _controls_response(request, thread, trigger=INBOX_CHANGED)
        assignee = _member(form.cleaned_data["assignee"])
        if form.cleaned_data["assignee"] and assignee is None:
            messages.error(request, "Threads can only be assigned to members of this workspace.")
            return _controls_response(request, thread, trigger=INBOX_CHANGED)
    try:
        services.thread_assign(thread=thread, assignee=assignee, actor=request.user)
    except services.AssignmentRefused as exc:
        messages.error(request, str(exc))
        return _controls_response(request, thread, trigger=INBOX_CHANGED)
    if assignee is None:
        messages.success(request, "Nobody has this conversation now.")
    else:
        messages.success(request, "Assigned to you." if assignee == request.user
                         else f"Assigned to {assignee.full_name or assignee.email}.")
    return _controls_response(request, thread, trigger=INBOX_CHANGED)


@workspace_required
@require_POST
def thread_snooze(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    form = SnoozeForm(request.POST)
    try:
        if not form.is_valid():
            raise services.SnoozeRefused("Choose when the conversation comes back.")
        until = form.until_at(timezone.now())
        services.thread_snooze(thread=thread, until=until, actor=request.user)
        messages.success(request, f"Snoozed until {timezone.localtime(until):%-d %b %H:%M}.")
    except services.SnoozeRefused as exc:
        messages.error(request, str(exc))
    return _controls_response(request, thread, trigger=INBOX_CHANGED)


@workspace_required
@require_POST
def thread_done(request, thread_id):
    """Resolve the conversation (the `e` shortcut posts here too; a repeat changes nothing)."""
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    if services.thread_resolve(thread=thread, actor=request.user):
        messages.success(request, "Resolved. A new message from the contact reopens it.")
    return _controls_response(request, thread, trigger=INBOX_CHANGED)


@workspace_required
@require_POST
def thread_reopen(request, thread_id):
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    if services.thread_reopen(thread=thread, actor=request.user):
        messages.success(request, "Open again.")
    return _controls_response(request, thread, trigger=INBOX_CHANGED)


@workspace_required
@require_POST
def inbox_bulk(request):
    """Assign, resolve, reopen or snooze the selected rows. Ids of other workspaces are ignored."""
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Select conversations and an action.")
    else:
        data = form.cleaned_data
        threads = selectors.threads_for_workspace(workspace=request.workspace, thread_ids=data["ids"])
        action, done = data["action"], 0
        try:
            if action == "snooze":
                until = form.until_at(timezone.now())
                done = sum(services.thread_snooze(thread=t, until=until, actor=request.user) for t in threads)
            elif action in ("assign_me", "assign", "unassign"):
                assignee = {"assign_me": request.user, "unassign": None}.get(action) or _member(data["assignee"])
                if action == "assign" and assignee is None:
                    raise services.AssignmentRefused("Choose a member to assign to.")
                done = sum(services.thread_assign(thread=t, assignee=assignee, actor=request.user) for t in threads)
            elif action == "resolve":
                done = sum(services.thread_resolve(thread=t, actor=request.user) for t in threads)
            elif action == "reopen":
                done = sum(services.thread_reopen(thread=t, actor=request.user) for t in threads)
            messages.success(request, f"{done} conversation{'' if done == 1 else 's'} updated.")
        except (services.AssignmentRefused, services.SnoozeRefused) as exc:
            messages.error(request, str(exc))
    # Back to the list as it was filtered (the filter form's fields come along with the POST).
    query = request.POST.copy()
    for name in ("ids", "action", "assignee", "snooze", "until", "csrfmiddlewaretoken"):
        query.pop(name, None)
    if not request.htmx:
        url = reverse("conversations:inbox", args=[request.workspace.slug])
        return redirect(f"{url}?{query.urlencode()}" if query else url)
    response = render(request, "conversations/inbox.html#thread-list", _inbox_list_context(request, query)
                      | {"show_messages": True})
    response["HX-Trigger"] = "inbox-changed"
    return response
