"""The assistant's pages: the sidebar panel (HTMX), the message poll, the conversations page, the user's key.

Every lookup goes through assistant.selectors with the workspace and the user: another user's or
another workspace's conversation is a 404. The context a question is asked in is re-checked
(assistant.context.context_resolve), whatever the page claimed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.tenancy import scoped_or_404, workspace_required
from assistant import crm, selectors, services, stream
from assistant.context import PICKABLE, Context, context_resolve
from assistant.forms import PersonalKeyForm
from assistant.models import ContextType
from contacts.selectors import contact_for_workspace

PAGE = "page"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _page_context(request, data) -> Context | None:
    """The context of the page the panel was opened on, re-checked for this workspace (404 if not its)."""
    context_type = data.get("page_type") or ContextType.GENERAL
    if context_type not in ContextType.values:
        return None
    return context_resolve(workspace=request.workspace, context_type=context_type,
                           object_id=_int(data.get("page_id")))


def _conversation(request, conversation_id):
    return scoped_or_404(selectors.conversation_for_user, request, user=request.user,
                         conversation_id=conversation_id, what="conversation")


def _message(request, message_id):
    return scoped_or_404(selectors.message_for_user, request, user=request.user, message_id=message_id,
                         what="message")


def _panel_context(request, *, page: Context | None, conversation=None, error: str = "", text: str = "",
                   picked: str = PAGE) -> dict:
    budget = selectors.token_budget(workspace=request.workspace, user=request.user, role=request.access.role)
    return {
        "conversation": conversation,
        "chat": selectors.conversation_messages(conversation=conversation) if conversation else [],
        "page": page,
        "picks": [(value, ContextType(value).label) for value in PICKABLE],
        "picked": picked,
        "budget": budget,
        "provider": selectors.provider_for(workspace=request.workspace, user=request.user),
        "error": error,
        "text": text,
    }


def _target(request) -> str:
    """Where the panel is rendered: the sidebar, or the conversation page (HTMX names it)."""
    return "#assistant-page" if request.headers.get("HX-Target") == "assistant-page" else "#assistant-body"


@workspace_required
def panel(request):
    """The sidebar's body for the page it is opened on: the latest conversation about it, or a new one."""
    page = _page_context(request, request.GET)
    conversation = None
    if conversation_id := _int(request.GET.get("conversation")):
        conversation = _conversation(request, conversation_id)
    elif page is not None and not request.GET.get("new"):
        conversation = selectors.conversation_about(workspace=request.workspace, user=request.user, context=page)
    return render(request, "assistant/panel.html", _panel_context(request, page=page, conversation=conversation))


@workspace_required
@require_POST
def send(request):
    page = _page_context(request, request.POST)
    conversation = None
    if conversation_id := _int(request.POST.get("conversation")):
        conversation = _conversation(request, conversation_id)
    picked = request.POST.get("context") or PAGE
    if picked == PAGE:
        context = page
    elif picked in PICKABLE:
        context = Context(picked, {"label": ContextType(picked).label})
    else:
        raise Http404("No such context")
    text = request.POST.get("text", "")
    # A CRM command of the user's own text gets its plan card at once (no model call, no key needed).
    crm_conversation = crm.crm_handle(workspace=request.workspace, user=request.user, text=text, context=context,
                                      conversation=conversation, contact_id=_int(request.POST.get("crm_contact")))
    if crm_conversation is not None:
        if not request.htmx:
            return redirect("assistant:conversation", workspace_slug=request.workspace.slug,
                            conversation_id=crm_conversation.pk)
        return render(request, "assistant/panel.html", {
            **_panel_context(request, page=page, conversation=crm_conversation, picked=picked),
            "target": _target(request)})
    try:
        asked = services.assistant_ask(workspace=request.workspace, user=request.user, role=request.access.role,
                                       text=text, context=context, conversation=conversation)
    except services.AskRefused as refusal:
        return render(request, "assistant/panel.html", {**_panel_context(
            request, page=page, conversation=conversation, error=refusal.message, text=text, picked=picked),
            "target": _target(request)})
    if not request.htmx:
        return redirect("assistant:conversation", workspace_slug=request.workspace.slug,
                        conversation_id=asked.conversation.pk)
    return render(request, "assistant/panel.html", {
        **_panel_context(request, page=page, conversation=asked.conversation, picked=picked), "target": _target(request)})


@workspace_required
def message_poll(request, message_id):
    """The answer so far (the browser asks every ~300 ms while it is being written): one query; once it is
    finished, the token line under the input too (out of band)."""
    message = _message(request, message_id)
    if not message.finished and services.answer_is_stale(message) and \
            services.assistant_answers_fail_stale(message_id=message.pk):
        message.refresh_from_db()  # its worker is gone: the reader sees that, not "Thinking…" forever
    budget = None
    if message.finished:
        budget = selectors.token_budget(workspace=request.workspace, user=request.user, role=request.access.role)
    return render(request, "assistant/_poll.html", {"m": message, "budget": budget})


def _same_host(origin: str, host: str) -> bool:
    try:
        return urlsplit(origin).hostname == urlsplit(f"//{host}").hostname
    except ValueError:
        return False


@workspace_required
def message_stream(request, message_id):
    """The answer as server-sent events (assistant.stream), read by static/js/assistant.js; the poll above
    stays the fallback. Checked like the poll (another user's message is a 404); a finished answer gets
    its end at once, and the browser loads the row."""
    message = _message(request, message_id)
    after = stream.last_event_id(request.headers.get("Last-Event-ID"))
    if isinstance(request, ASGIRequest):
        body = stream.relay_async(message_id=message.pk, after=after, finished=message.finished)
    else:
        body = stream.relay(message_id=message.pk, after=after, finished=message.finished)
    # The relay needs no database: give the connection back now rather than hold it for minutes
    # (Django closes it only when the response ends, which for a stream is when the answer does). Not
    # inside a transaction (a test's): closing would only mark it for rollback.
    if not connection.in_atomic_block:
        connection.close()
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer the events
    origin = request.headers.get("Origin")
    if origin and _same_host(origin, request.get_host()):
        # `make run` serves streams from their own process on the next port (ASSISTANT_STREAM_URL): a page
        # of the same host may read them, with its session cookie (cookies do not depend on the port).
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    return response


@workspace_required
@require_POST
def message_stop(request, message_id):
    message = _message(request, message_id)
    services.assistant_stop(answer=message)
    return render(request, "assistant/_message.html", {"m": message})


@workspace_required
@require_POST
def message_retry(request, message_id):
    message = _message(request, message_id)
    services.assistant_retry(answer=message)
    return render(request, "assistant/_message.html", {"m": message})


@workspace_required
def conversations(request):
    archived = request.GET.get("archived") == "1"
    q = request.GET.get("q", "")[:200]
    rows = selectors.conversations_for_user(workspace=request.workspace, user=request.user, archived=archived, q=q)
    return render(request, "assistant/conversations.html", {
        "conversations": rows[:200], "archived": archived, "q": q,
        "budget": selectors.token_budget(workspace=request.workspace, user=request.user, role=request.access.role),
    })


@workspace_required
def conversation(request, conversation_id):
    conversation = _conversation(request, conversation_id)
    return render(request, "assistant/conversation.html",
                  {**_panel_context(request, page=None, conversation=conversation), "target": "#assistant-page"})


@workspace_required
@require_POST
def conversation_archive(request, conversation_id):
    conversation = _conversation(request, conversation_id)
    archive = request.POST.get("archived", "1") == "1"
    services.conversation_archive(conversation=conversation, archived=archive)
    messages.success(request, f"“{conversation}” {'archived' if archive else 'restored'}.")
    # Back to the list the conversation was on.
    return redirect(reverse("assistant:conversations", args=[request.workspace.slug]) +
                    ("" if archive else "?archived=1"))


@workspace_required
def personal_key(request):
    workspace, user = request.workspace, request.user
    provider = selectors.personal_provider_for(workspace=workspace, user=user)
    form = PersonalKeyForm(initial={"kind": provider.kind, "model": provider.model, "base_url": provider.base_url,
                                    "api_version": provider.api_version} if provider else None)
    tested = None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "delete":
            services.personal_key_delete(workspace=workspace, user=user)
            messages.success(request, "Your key is removed; the assistant uses the workspace's model.")
            return redirect("assistant:key", workspace_slug=workspace.slug)
        if action == "test":
            if provider is None:
                raise Http404("No key to test")
            tested = services.personal_key_test(provider=provider)
        else:
            form = PersonalKeyForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.personal_key_save(workspace=workspace, user=user, kind=data["kind"],
                                               model=data["model"].strip(), api_key=data["api_key"] or None,
                                               base_url=data["base_url"] or "", api_version=data["api_version"])
                    messages.success(request, "Your key is saved (encrypted). Test the connection below.")
                    return redirect("assistant:key", workspace_slug=workspace.slug)
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        for error in errors:
                            form.add_error(field if field in form.fields else None, error)
    return render(request, "assistant/key.html", {"provider": provider, "form": form, "tested": tested})


# --- suggestions ------------------------------------------------------------------------------------

def _suggestion(request, suggestion_id):
    return scoped_or_404(selectors.suggestion_for_user, request, user=request.user, suggestion_id=suggestion_id,
                         what="suggestion")


def _suggestions_response(request, message, error: str = ""):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("assistant:conversation", workspace_slug=request.workspace.slug,
                        conversation_id=message.conversation_id)
    return render(request, "assistant/_suggestions.html", {"m": message, "suggest_error": error})


@workspace_required
@require_POST
def message_suggest(request, message_id):
    """The "Suggest" button: the suggestions are written on the `llm` worker; the block polls for them."""
    message = _message(request, message_id)
    try:
        services.suggestions_request(answer=message, role=request.access.role)
    except services.AskRefused as refusal:
        return _suggestions_response(request, message, refusal.message)
    message.refresh_from_db()
    return _suggestions_response(request, message)


@workspace_required
def message_suggestions(request, message_id):
    return _suggestions_response(request, _message(request, message_id))


def _card_response(request, suggestion, *, error: str = "", changed: bool = False):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("assistant:conversation", workspace_slug=request.workspace.slug,
                        conversation_id=suggestion.message.conversation_id)
    response = render(request, "assistant/_suggestion.html", {"s": suggestion, "card_error": error})
    if changed:
        # The page beside the panel reloads what it shows (a thread's Sidekick panel and its pending draft).
        response["HX-Trigger"] = "assistant-applied"
    return response


@workspace_required
@require_POST
def suggestion_apply(request, suggestion_id):
    """One click applies (a setter asking for an admin-only type gets 403: PermissionDenied)."""
    suggestion = _suggestion(request, suggestion_id)
    try:
        suggestion = services.suggestion_apply(suggestion=suggestion, actor=request.user, role=request.access.role)
    except services.SuggestionRefused as refusal:
        return _card_response(request, suggestion, error=refusal.message)
    return _card_response(request, suggestion, changed=True)


@workspace_required
@require_POST
def suggestion_reject(request, suggestion_id):
    suggestion = _suggestion(request, suggestion_id)
    try:
        suggestion = services.suggestion_reject(suggestion=suggestion)
    except services.SuggestionRefused as refusal:
        return _card_response(request, suggestion, error=refusal.message)
    return _card_response(request, suggestion)


@workspace_required
@require_POST
def suggestion_undo(request, suggestion_id):
    suggestion = _suggestion(request, suggestion_id)
    try:
        suggestion = services.suggestion_undo(suggestion=suggestion, actor=request.user, role=request.access.role)
    except services.SuggestionRefused as refusal:
        return _card_response(request, suggestion, error=refusal.message)
    return _card_response(request, suggestion, changed=True)


# --- AutoCRM plans ----------------------------------------------------------------------------------

def _plan_response(request, message, *, error: str = "", changed: bool = False):
    contact_id = ((message.metadata or {}).get("entities") or {}).get("contact_id")
    if request.htmx and request.POST.get("from") == "history" and contact_id:
        # Pressed in the contact page's AutoCRM history: that list comes back, the card in the panel reloads.
        response = _contact_plans_response(request, contact_id, error=error)
        if changed:
            response["HX-Trigger"] = "assistant-applied"
        return response
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("assistant:conversation", workspace_slug=request.workspace.slug,
                        conversation_id=message.conversation_id)
    response = render(request, "assistant/_message.html", {"m": message, "plan_error": error})
    if changed:
        response["HX-Trigger"] = "assistant-applied"  # the contact page beside the panel reloads
    return response


def _plan_step(request, message_id, step):
    """Confirm, undo or redo a plan (`step(message)` returns the updated message); a refusal shows why."""
    message = _message(request, message_id)
    try:
        message = step(message)
    except crm.PlanRefused as refusal:
        message.refresh_from_db()
        return _plan_response(request, message, error=refusal.message)
    return _plan_response(request, message, changed=True)


@workspace_required
@require_POST
def plan_confirm(request, message_id):
    count = _int(request.POST.get("count"))
    return _plan_step(request, message_id,
                      lambda m: crm.crm_plan_confirm(message=m, actor=request.user, confirmed_count=count))


@workspace_required
@require_POST
def plan_undo(request, message_id):
    step, overwrite = _int(request.POST.get("step")), request.POST.get("overwrite") == "1"
    return _plan_step(request, message_id,
                      lambda m: crm.crm_plan_undo(message=m, actor=request.user, step=step, overwrite=overwrite))


@workspace_required
@require_POST
def plan_redo(request, message_id):
    return _plan_step(request, message_id, lambda m: crm.crm_plan_redo(message=m, actor=request.user))


@workspace_required
@require_POST
def plan_feedback(request, message_id):
    message = _message(request, message_id)
    try:
        message = crm.crm_plan_feedback(message=message, actor=request.user, rating=request.POST.get("rating", ""),
                                        reason=request.POST.get("reason", ""))
    except crm.PlanRefused as refusal:
        return _plan_response(request, message, error=refusal.message)
    return _plan_response(request, message)


def _contact_plans_response(request, contact_id: int, *, error: str = ""):
    contact = scoped_or_404(contact_for_workspace, request, contact_id=contact_id, what="contact")
    plans = crm.crm_plans_for_contact(workspace=request.workspace, user=request.user, contact_id=contact.pk)
    return render(request, "assistant/_contact_plans.html", {
        "contact": contact, "plans": plans, "plan_error": error,
        "changes": crm.crm_changes_for_contact(workspace=request.workspace, contact=contact)})


@workspace_required
def contact_plans(request, contact_id):
    """The contact page's AutoCRM history: the user's own plans about this contact, with undo and redo."""
    return _contact_plans_response(request, contact_id)
