"""Channel settings: the list, the OAuth connect flows and connect by token (admins only).

Flow: POST connect_<platform> → Meta's dialog → Meta redirects to the fixed oauth_return_<platform>
URI → that forwards to the workspace's callback_<platform>, which finishes the connection (or, for
Messenger, asks which Page). Errors end on the channels page with a message; nothing is half-saved.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.tenancy import admin_required
from integrations import channel_oauth, selectors, services
from integrations.channel_oauth import ConnectError
from integrations.forms import ChannelConnectForm, PageChoiceForm
from integrations.meta import oauth
from integrations.models import Platform

# What Meta may append to a redirect URI; everything else is dropped when forwarding.
_RETURN_PARAMS = ("code", "state", "error", "error_reason", "error_description")


def _channels_context(request, form=None) -> dict:
    workspace = request.workspace
    return {
        "channels": selectors.workspace_channels(workspace=workspace),
        "connect_form": form or ChannelConnectForm(),
        "sandbox": settings.META_SANDBOX,
        "sandbox_sends": selectors.workspace_sandbox_sends(workspace=workspace) if settings.META_SANDBOX else [],
        # SITE_URL, not this request's host: these are the addresses registered with Meta and used in the
        # OAuth flow (channel_oauth.redirect_uri), so the page shows exactly what Meta will be given.
        "webhook_url": settings.SITE_URL + reverse("integrations:meta_webhook"),
        "instagram_configured": oauth.instagram_configured(),
        "facebook_configured": oauth.facebook_configured(),
        "pending_pages": channel_oauth.messenger_pages_pending(session=request.session, workspace=workspace),
        "redirect_uris": {p: channel_oauth.redirect_uri(p) for p in Platform.values},
    }


@admin_required
def channel_list(request):
    return render(request, "integrations/channels.html", _channels_context(request))


def _to_channels(request, error: str | None = None):
    if error:
        messages.error(request, error)
    return redirect("integrations:channels", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def channel_connect_start(request, platform):
    configured = oauth.instagram_configured() if platform == Platform.INSTAGRAM else oauth.facebook_configured()
    if not configured:
        return _to_channels(request, "Connecting with Meta is not configured on this server (see docs/meta-setup.md).")
    url = channel_oauth.oauth_flow_start(session=request.session, workspace=request.workspace, platform=platform)
    return HttpResponseRedirect(url)


@login_required
@require_GET
def oauth_return(request, platform):
    """The fixed redirect URI: forward Meta's answer to the workspace named in the signed state.

    Only authenticity of the state is checked here; membership, role and the session-bound nonce are
    checked by the workspace callback (admin_required, then channel_oauth.oauth_state_consume).
    """
    slug = channel_oauth.oauth_state_workspace(state=request.GET.get("state", ""), platform=platform)
    if slug is None:
        messages.error(request, "The answer from Meta could not be verified (invalid or expired state). "
                                "Please start the connection again from the channels page.")
        return redirect("home")
    query = urlencode({k: request.GET[k] for k in _RETURN_PARAMS if k in request.GET})
    target = reverse(f"integrations:channel_callback_{platform}", kwargs={"workspace_slug": slug})
    return HttpResponseRedirect(f"{target}?{query}")


def _callback_checks(request, platform) -> str:
    """The authorization code, once the state and Meta's own outcome are checked. Raises ConnectError."""
    channel_oauth.oauth_state_consume(session=request.session, state=request.GET.get("state", ""),
                                      workspace=request.workspace, platform=platform)
    if request.GET.get("error") or request.GET.get("error_reason"):
        raise channel_oauth.consent_error(platform=platform, error=request.GET.get("error", ""),
                                          reason=request.GET.get("error_reason", ""),
                                          description=request.GET.get("error_description", ""))
    return request.GET.get("code", "")


@admin_required
@require_GET
def channel_callback_instagram(request):
    try:
        code = _callback_checks(request, Platform.INSTAGRAM)
        channel = channel_oauth.instagram_connect_finish(workspace=request.workspace, actor=request.user, code=code)
    except ConnectError as exc:
        return _to_channels(request, str(exc))
    messages.success(request, f"Connected Instagram {channel.name}. Messages sent to it now arrive in Sidekick.")
    return _to_channels(request)


@admin_required
@require_GET
def channel_callback_messenger(request):
    try:
        code = _callback_checks(request, Platform.MESSENGER)
        channel_oauth.messenger_pages_fetch(session=request.session, workspace=request.workspace, code=code)
    except ConnectError as exc:
        return _to_channels(request, str(exc))
    return redirect("integrations:channel_messenger_pages", workspace_slug=request.workspace.slug)


@admin_required
def channel_messenger_pages(request):
    pages = channel_oauth.messenger_pages_pending(session=request.session, workspace=request.workspace)
    if pages is None:
        return _to_channels(request, "There is no Page choice waiting. Connect Messenger to list your Pages.")
    form = PageChoiceForm(request.POST or None, pages=pages)
    if request.method == "POST" and form.is_valid():
        try:
            channel = channel_oauth.messenger_page_connect(session=request.session, workspace=request.workspace,
                                                           actor=request.user, page_id=form.cleaned_data["page"])
        except ConnectError as exc:
            return _to_channels(request, str(exc))
        messages.success(request, f"Connected the Facebook Page {channel.name} for Messenger.")
        return _to_channels(request)
    return render(request, "integrations/messenger_pages.html", {"form": form})


# --- connect by token (self-hosters, tokens from Meta's dashboard) ------------------------------------

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
