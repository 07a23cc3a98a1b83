"""The sandbox panel (META_SANDBOX=1, admins only): type as a contact and watch the conversation.

The message goes through the real intake (`conversations.intake.sandbox_dm_deliver`); the panel
shows the thread as the inbox would. The contact being played (channel, id, name) is kept in the
session, so a reload shows the same conversation; the panel's own polling never marks the thread
read (only a setter opening it does), so the inbox's unread badges show what a real DM would.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.tenancy import admin_required
from contacts.services import contact_name_set
from conversations import intake, selectors
from integrations.forms import SandboxMessageForm
from integrations.selectors import workspace_channels

SESSION_KEY = "sandbox_contact"


def _remembered(request, channels) -> dict:
    """The contact last played in this workspace, if its channel still exists."""
    saved = request.session.get(SESSION_KEY, {}).get(request.workspace.slug) or {}
    if saved.get("channel") not in {c.pk for c in channels}:
        return {"channel": channels[0].pk if channels else None, "sender": SandboxMessageForm.base_fields["sender"].initial,
                "name": ""}
    return saved


def _remember(request, *, channel_id: int, sender: str, name: str) -> None:
    saved = request.session.get(SESSION_KEY, {})
    saved[request.workspace.slug] = {"channel": channel_id, "sender": sender, "name": name}
    request.session[SESSION_KEY] = saved


def _sandbox_context(request, form: SandboxMessageForm, sender: str, channel_id: int | None) -> dict:
    thread = selectors.sandbox_thread(workspace=request.workspace, channel_id=channel_id, sender_id=sender)
    context = {"form": form, "thread": thread, "paged": False, "more": False, "thread_messages": [],
               "live_url": reverse("conversations:sandbox", kwargs={"workspace_slug": request.workspace.slug})}
    if thread is not None:
        context["thread_messages"], context["more"] = selectors.thread_messages(thread=thread)
    return context


@admin_required
@vary_on_headers("HX-Request", "HX-Target")
def sandbox(request):
    """Type as a contact and watch the conversation (and Sidekick's answers) arrive."""
    if not settings.META_SANDBOX:
        raise Http404("The sandbox is off (META_SANDBOX=0)")
    channels = list(workspace_channels(workspace=request.workspace))
    current = _remembered(request, channels)
    form = SandboxMessageForm(channels=channels, initial=current)
    context = _sandbox_context(request, form, current["sender"], current["channel"])
    context["channels"] = channels
    if request.htmx and request.htmx.target == "thread-live" and not request.htmx.history_restore_request:
        # The panel's poll: the messages only, and the thread is not marked read (views.thread_detail does that).
        return render(request, "conversations/sandbox.html#sandbox-live", context)
    return render(request, "conversations/sandbox.html", context)


@admin_required
@require_POST
def sandbox_send(request):
    if not settings.META_SANDBOX:
        raise Http404("The sandbox is off (META_SANDBOX=0)")
    channels = list(workspace_channels(workspace=request.workspace))
    form = SandboxMessageForm(request.POST, channels=channels)
    sender, channel_id = request.POST.get("sender", ""), None
    if form.is_valid():
        channel = next(c for c in channels if c.pk == form.cleaned_data["channel"])
        sender, channel_id, name = form.cleaned_data["sender"], channel.pk, form.cleaned_data["name"].strip()
        intake.sandbox_dm_deliver(channel=channel, sender_id=sender, text=form.cleaned_data["text"])
        contact_name_set(workspace=request.workspace, channel_id=channel.pk, external_id=sender, name=name)
        _remember(request, channel_id=channel.pk, sender=sender, name=name)
        form = SandboxMessageForm(channels=channels, initial={"channel": channel.pk, "sender": sender, "name": name})
    else:
        messages.error(request, "Choose a channel, a contact id (letters, digits, . _ -) and a message.")
    if not request.htmx:
        return redirect("conversations:sandbox", workspace_slug=request.workspace.slug)
    context = _sandbox_context(request, form, sender, channel_id)
    context["channels"] = channels
    return render(request, "conversations/sandbox.html#sandbox-area", context)
