"""Inbox and thread pages. One view serves a full page and, for HTMX, the fragment that changes."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.tenancy import scoped_or_404, workspace_required
from conversations import selectors, services
from conversations.forms import InboxFilterForm, ReplyForm
from conversations.models import Thread
from conversations.sending import SendRefused
from conversations.sidekick_views import panel_context


def _filters(form: InboxFilterForm) -> selectors.InboxFilters:
    if not form.is_valid():
        return selectors.InboxFilters()
    data = form.cleaned_data
    return selectors.InboxFilters(platform=data["platform"], stage=data["stage"], needs_human=data["needs_human"],
                                  ai_paused=data["ai_paused"], q=data["q"])


def _fragment(request) -> bool:
    """An HTMX swap wants the fragment; a history restore (back button after hx-push-url) the page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


@workspace_required
@vary_on_headers("HX-Request", "HX-Target")
def inbox(request):
    form = InboxFilterForm(request.GET)
    cursor = selectors.Cursor.decode(request.GET.get("after"))
    page = selectors.inbox_threads(workspace=request.workspace, filters=_filters(form), cursor=cursor)
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "page": page,
        "cursor": cursor,
        "filter_query": query.urlencode(),
    }
    template = "conversations/inbox.html#thread-list" if _fragment(request) else "conversations/inbox.html"
    return render(request, template, context)


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
        return render(request, "conversations/thread.html#thread-controls", {"thread": thread})
    services.thread_mark_read(thread=thread)
    context = _live_context(request, thread)
    if _fragment(request) and request.htmx.target == "thread-live":
        return render(request, "conversations/thread.html#thread-live", context)
    context.update({"reply_state": selectors.thread_reply_state(thread=thread), "reply_form": ReplyForm()})
    context.update(panel_context(thread))
    return render(request, "conversations/thread.html", context)


def _controls_response(request, thread: Thread):
    if not request.htmx:
        return redirect("conversations:thread", workspace_slug=request.workspace.slug, thread_id=thread.pk)
    response = render(request, "conversations/thread.html#thread-controls", {"thread": thread})
    response["HX-Trigger"] = "thread-updated"
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
