from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.forms import AcceptInvitationForm, InviteForm, RoleForm
from accounts.models import Invitation, User
from accounts.tenancy import SESSION_KEY, admin_required, scoped_or_404, workspace_required


@login_required
def home(request):
    """Send the user to the workspace they used last, or their first one."""
    workspaces = selectors.workspaces_for_user(user=request.user)
    last = request.session.get(SESSION_KEY)
    if last and workspaces.filter(slug=last).exists():
        return redirect("insights:overview", workspace_slug=last)
    first = workspaces.first()
    if first is not None:
        return redirect("insights:overview", workspace_slug=first.slug)
    return render(request, "accounts/no_workspace.html")


@workspace_required
def members(request):
    workspace = request.workspace
    context = {
        "members": selectors.workspace_members(workspace=workspace),
        "invitations": selectors.workspace_invitations_pending(workspace=workspace)
        if request.access.is_admin else [],
        "invite_form": InviteForm(),
        "roles": RoleForm.base_fields["role"].choices,
    }
    return render(request, "accounts/members.html", context)


def _members_response(request):
    if request.htmx:
        context = {
            "members": selectors.workspace_members(workspace=request.workspace),
            "invitations": selectors.workspace_invitations_pending(workspace=request.workspace),
            "invite_form": InviteForm(),
            "roles": RoleForm.base_fields["role"].choices,
        }
        return render(request, "accounts/members.html#member-area", context)
    return redirect("accounts:members", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def member_invite(request):
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                workspace=request.workspace, email=form.cleaned_data["email"],
                role=form.cleaned_data["role"], invited_by=request.user,
            )
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Enter a valid email address and role.")
    return _members_response(request)


@admin_required
@require_POST
def member_role(request, membership_id):
    membership = scoped_or_404(selectors.workspace_membership, request, membership_id=membership_id, what="member")
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose admin or setter.")
    else:
        try:
            services.member_role_change(membership=membership, role=form.cleaned_data["role"], actor=request.user)
            messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return _members_response(request)


@admin_required
@require_POST
def member_remove(request, membership_id):
    membership = scoped_or_404(selectors.workspace_membership, request, membership_id=membership_id, what="member")
    try:
        services.member_remove(membership=membership, actor=request.user)
        messages.success(request, f"{membership.user.email} was removed.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _members_response(request)


@admin_required
@require_POST
def invitation_revoke(request, invitation_id):
    try:
        invitation = selectors.workspace_invitation(workspace=request.workspace, invitation_id=invitation_id)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation") from None
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"Invitation for {invitation.email} revoked.")
    return _members_response(request)


@admin_required
def audit_log(request):
    events = selectors.workspace_audit_events(workspace=request.workspace)[:200]
    return render(request, "accounts/audit_log.html", {"events": events})


def invitation_accept(request, token):
    """Open to anonymous users: the link in the email is the credential."""
    invitation = services.invitation_find(token=token)
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invitation_invalid.html", status=404)
    existing = User.objects.filter(email__iexact=invitation.email).first()
    if existing is not None and existing.has_usable_password():
        # A known user accepts while logged in as themselves.
        if not request.user.is_authenticated:
            messages.info(request, f"Log in as {invitation.email} to join {invitation.workspace.name}.")
            return redirect(f"{reverse('accounts:login')}?next={request.path}")
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return render(request, "accounts/invitation_accept.html", {"invitation": invitation}, status=400)
            return redirect("insights:overview", workspace_slug=invitation.workspace.slug)
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})

    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept_as_new_user(invitation=invitation, full_name=form.cleaned_data["full_name"],
                                                          password=form.cleaned_data["password1"])
        except ValidationError as exc:  # e.g. the same form submitted twice: the first one joined
            messages.error(request, " ".join(exc.messages))
            return render(request, "accounts/invitation_invalid.html", status=409)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("insights:overview", workspace_slug=invitation.workspace.slug)
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form},
                  status=400 if form.errors else 200)


@require_GET
def healthz(request):
    """Liveness for load balancers: the database and Redis answer."""
    from django.core.cache import cache

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.get("healthz")
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503)
