"""Channel settings and the sandbox panel (admins)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required
from integrations import selectors, services
from integrations.forms import ChannelConnectForm, SandboxMessageForm


def _channels_context(request, form=None) -> dict:
    workspace = request.workspace
    return {
        "channels": selectors.workspace_channels(workspace=workspace),
        "connect_form": form or ChannelConnectForm(),
        "sandbox": settings.META_SANDBOX,
        "sandbox_sends": selectors.workspace_sandbox_sends(workspace=workspace) if settings.META_SANDBOX else [],
        "webhook_url": settings.SITE_URL + "/webhooks/meta/",
    }


@admin_required
def channel_list(request):
    return render(request, "integrations/channels.html", _channels_context(request))


@admin_required
@require_POST
def channel_connect(request):
    """Connect an account by token, or reconnect one (same platform + account id) with a new token."""
    form = ChannelConnectForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            channel = services.channel_connect(workspace=request.workspace, platform=data["platform"],
                                               account_id=data["account_id"], token=data["token"],
                                               name=data["name"], actor=request.user)
            messages.success(request, f"{channel} is connected.")
            form = None
        except ValueError as exc:
            messages.error(request, str(exc)[:1].upper() + str(exc)[1:] + ".")
    else:
        messages.error(request, "Choose a platform and enter the account id and an access token.")
    if not request.htmx:
        return redirect("integrations:channels", workspace_slug=request.workspace.slug)
    return render(request, "integrations/channels.html#channel-area", _channels_context(request, form))


# --- sandbox panel (META_SANDBOX=1) ----------------------------------------------------------------

def _sandbox_context(request, form: SandboxMessageForm, sender: str, channel_id: int | None) -> dict:
    from conversations import selectors as conversation_selectors

    thread = selectors.sandbox_thread(workspace=request.workspace, channel_id=channel_id, sender_id=sender)
    context = {"form": form, "thread": thread, "paged": False, "more": False, "thread_messages": []}
    if thread is not None:
        context["thread_messages"], context["more"] = conversation_selectors.thread_messages(thread=thread)
    return context


@admin_required
def sandbox(request):
    """Type as a contact and watch the conversation (and Sidekick's answers) arrive."""
    if not settings.META_SANDBOX:
        raise Http404("The sandbox is off (META_SANDBOX=0)")
    channels = list(selectors.workspace_channels(workspace=request.workspace))
    form = SandboxMessageForm(channels=channels, initial={"channel": channels[0].pk if channels else None})
    context = _sandbox_context(request, form, form["sender"].initial, channels[0].pk if channels else None)
    context["channels"] = channels
    return render(request, "integrations/sandbox.html", context)


@admin_required
@require_POST
def sandbox_send(request):
    if not settings.META_SANDBOX:
        raise Http404("The sandbox is off (META_SANDBOX=0)")
    channels = list(selectors.workspace_channels(workspace=request.workspace))
    form = SandboxMessageForm(request.POST, channels=channels)
    sender, channel_id = request.POST.get("sender", ""), None
    if form.is_valid():
        channel = next(c for c in channels if c.pk == form.cleaned_data["channel"])
        sender, channel_id = form.cleaned_data["sender"], channel.pk
        services.sandbox_dm_deliver(channel=channel, sender_id=sender, text=form.cleaned_data["text"])
        form = SandboxMessageForm(channels=channels, initial={"channel": channel.pk, "sender": sender})
    else:
        messages.error(request, "Choose a channel, a contact id (letters, digits, . _ -) and a message.")
    if not request.htmx:
        return redirect("integrations:sandbox", workspace_slug=request.workspace.slug)
    context = _sandbox_context(request, form, sender, channel_id)
    context["channels"] = channels
    return render(request, "integrations/sandbox.html#sandbox-area", context)
