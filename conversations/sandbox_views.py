"""The sandbox panel (META_SANDBOX=1, admins only): type as a contact and watch the conversation.

The message goes through the real intake (`conversations.intake.sandbox_dm_deliver`); the panel
shows the thread as the inbox would.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required
from conversations import intake, selectors
from integrations.forms import SandboxMessageForm
from integrations.selectors import workspace_channels


def _sandbox_context(request, form: SandboxMessageForm, sender: str, channel_id: int | None) -> dict:
    thread = selectors.sandbox_thread(workspace=request.workspace, channel_id=channel_id, sender_id=sender)
    context = {"form": form, "thread": thread, "paged": False, "more": False, "thread_messages": []}
    if thread is not None:
        context["thread_messages"], context["more"] = selectors.thread_messages(thread=thread)
    return context


@admin_required
def sandbox(request):
    """Type as a contact and watch the conversation (and Sidekick's answers) arrive."""
    if not settings.META_SANDBOX:
        raise Http404("The sandbox is off (META_SANDBOX=0)")
    channels = list(workspace_channels(workspace=request.workspace))
    form = SandboxMessageForm(channels=channels, initial={"channel": channels[0].pk if channels else None})
    context = _sandbox_context(request, form, form["sender"].initial, channels[0].pk if channels else None)
    context["channels"] = channels
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
        sender, channel_id = form.cleaned_data["sender"], channel.pk
        intake.sandbox_dm_deliver(channel=channel, sender_id=sender, text=form.cleaned_data["text"])
        form = SandboxMessageForm(channels=channels, initial={"channel": channel.pk, "sender": sender})
    else:
        messages.error(request, "Choose a channel, a contact id (letters, digits, . _ -) and a message.")
    if not request.htmx:
        return redirect("conversations:sandbox", workspace_slug=request.workspace.slug)
    context = _sandbox_context(request, form, sender, channel_id)
    context["channels"] = channels
    return render(request, "conversations/sandbox.html#sandbox-area", context)
