"""Every URL under /w/<slug>/ refuses a user of another workspace, and setters on admin views.

The walk reads the URLconf, so a new view that forgets the tenancy decorators fails here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory

pytestmark = pytest.mark.django_db

# Routes outside /w/<slug>/ and why they are not tenant-scoped. A new entry needs a reason.
NOT_TENANT_SCOPED = {
    "": "home: redirects to the user's own workspace",
    "healthz": "load-balancer health check, no tenant data",
    "favicon.ico": "a redirect to the static icon, no tenant data",
    "admin/": "Django admin, super-admins only (test_superadmin)",
    "accounts/": "login, logout, password reset",
    "invite/": "invitation link; the token is the credential (test_invitations)",
    "webhooks/": "Meta webhooks, authenticated by signature (integrations/tests)",
    "bench/": "only with BENCH=1, for bench/webhook.py",
    "oauth/": "Meta OAuth redirect URIs (fixed); they only forward to the workspace named in the signed state",
}


# The role every workspace view requires, by URL name. A new view must be added here, so its role
# is a reviewed decision; the tests below then check the view really enforces it.
EXPECTED_ROLES = {
    "insights:overview": "member",
    "insights:weekly_optin": "admin",
    "insights:insights": "member",
    "insights:run": "member",  # every member may run a report (aggregates only)
    "insights:compare": "member",
    "insights:report": "member",
    "insights:progress": "member",
    "insights:evidence": "admin_or_404",  # message excerpts: a setter gets 404
    "insights:export_csv": "admin_or_404",
    "insights:export_json": "admin_or_404",
    "evals:proposals": "member",  # setters see proposals; only admins act on them
    "evals:proposal": "member",
    "evals:proposal_draft": "admin",
    "evals:proposals_from_escalations": "admin",
    "evals:proposal_approve": "admin",
    "evals:proposal_reject": "admin",
    "evals:proposal_compare": "admin",
    "evals:proposal_apply": "admin",
    "evals:proposal_rollback": "admin",
    "evals:proposal_fan_out": "admin",  # and the service refuses anyone but a super-admin
    "evals:history": "member",
    "evals:history_restore": "admin",
    "evals:runs": "member",  # aggregates for every member; the weakest cases' text for admins only
    "evals:weekly_optin": "admin",
    "evals:run_estimate": "admin",  # a judge spends tokens: admins start runs
    "evals:run_start": "admin",
    "evals:calibrate": "admin_or_404",  # case text (redacted): a setter gets 404
    "evals:calibrate_label": "admin_or_404",
    "accounts:members": "member",
    "accounts:member_invite": "admin",
    "accounts:member_role": "admin",
    "accounts:member_remove": "admin",
    "accounts:invitation_revoke": "admin",
    "accounts:audit_log": "admin",
    "integrations:channels": "admin",
    "integrations:channel_connect_instagram": "admin",
    "integrations:channel_callback_instagram": "admin",
    "integrations:channel_connect_messenger": "admin",
    "integrations:channel_callback_messenger": "admin",
    "integrations:channel_messenger_pages": "admin",
    "integrations:channel_connect": "admin",
    "integrations:llm_providers": "admin",
    "integrations:llm_provider_add": "admin",
    "integrations:llm_provider_test": "admin",
    "integrations:llm_provider_default": "admin",
    "integrations:llm_usage": "member",
    "integrations:llm_limits": "admin",  # setters see their own row only
    "conversations:sandbox": "admin",  # 404 unless META_SANDBOX
    "conversations:sandbox_send": "admin",
    "knowledge:home": "member",
    "knowledge:upload": "admin",
    "knowledge:document": "member",
    "knowledge:document_delete": "admin",
    "knowledge:document_restore": "admin",
    "knowledge:faq_list": "member",
    "knowledge:faq_create": "admin",
    "knowledge:faq_import": "admin",
    "knowledge:faq_detail": "member",  # POST (edit) is admin-only inside the view
    "knowledge:faq_delete": "admin",
    "knowledge:faq_restore": "admin",
    "knowledge:test": "member",
    "knowledge:test_answer": "member",  # the model's answer to a test question (the person's own tokens)
    "knowledge:test_answer_result": "member",  # bound to the person who asked, 404 to anyone else
    "knowledge:settings": "admin",
    "conversations:inbox": "member",
    "conversations:thread": "member",
    "conversations:thread_reply": "member",
    "conversations:thread_takeover": "member",
    "conversations:thread_resume": "member",
    "conversations:thread_resolve": "member",
    "conversations:thread_assign": "member",  # assign, snooze, resolve, reopen, bulk: setters work the inbox too
    "conversations:thread_snooze": "member",
    "conversations:thread_done": "member",
    "conversations:thread_reopen": "member",
    "conversations:inbox_bulk": "member",
    "conversations:nav_counts": "member",
    "conversations:saved_reply_picker": "member",
    "conversations:saved_replies": "admin",
    "conversations:saved_reply_edit": "admin",
    "conversations:saved_reply_delete": "admin",
    "conversations:draft_details": "member",
    "conversations:draft_approve": "member",
    "conversations:draft_edit": "member",
    "conversations:draft_discard": "member",
    "conversations:sidekick": "member",
    "conversations:sidekick_auto": "admin",
    "conversations:sidekick_settings": "admin",
    "conversations:follow_up_steps": "admin",
    "conversations:prompt": "member",  # setters read the prompt; saving is admin_required
    "conversations:prompt_preview": "member",  # renders text, writes nothing
    "conversations:prompt_save": "admin",
    "conversations:prompt_diff": "member",
    "conversations:prompt_restore": "admin",
    "conversations:escalations": "member",
    "conversations:escalation_claim": "member",
    "conversations:escalation_resolve": "member",
    "conversations:follow_ups": "member",
    "conversations:follow_up_send": "member",
    "contacts:list": "member",
    "contacts:detail": "member",
    "contacts:person_link": "admin",
    "contacts:person_unlink": "admin",
    "contacts:person_search": "admin",
    "contacts:stage": "member",  # setters move contacts through the pipeline
    "contacts:booking": "member",
    "contacts:memory_edit": "admin",
    "contacts:memory_delete": "admin",
    # The assistant: each user's own conversations and key (scoped to the user inside the views).
    "assistant:conversations": "member",
    "assistant:panel": "member",
    "assistant:send": "member",
    "assistant:key": "member",
    "assistant:conversation": "member",
    "assistant:archive": "member",
    "assistant:message": "member",
    "assistant:stream": "member",
    "assistant:stop": "member",
    "assistant:retry": "member",
    # Suggestions: the user's own (scoped inside the views); prompt and FAQ types are refused to setters
    # by the service (403), as `changes` refuses them.
    "assistant:suggest": "member",
    "assistant:suggestions": "member",
    "assistant:suggestion_apply": "member",
    "assistant:suggestion_reject": "member",
    "assistant:suggestion_undo": "member",
    "assistant:plan_confirm": "member",
    "assistant:plan_undo": "member",
    "assistant:plan_redo": "member",
    "assistant:plan_feedback": "member",
    "assistant:contact_plans": "member",
    # Privacy requests: members ask about their own AI data; contacts' requests are admins' (404 to setters).
    "privacy:requests": "member",  # admins see every request, members their own (privacy.selectors)
    "privacy:my_data": "member",
    "privacy:contact_request": "admin_or_404",
    "privacy:download": "member",  # scoped inside: a contact's export to admins, a user's AI data to that user
    "privacy:retry": "member",
}


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            entry.full_name = f"{namespace}{entry.name}"
            yield route, entry


def _fill(route: str, slug: str) -> str:
    import re

    path = route.replace("<slug:workspace_slug>", slug)
    path = re.sub(r"<int:[^>]+>", "1", path)
    path = re.sub(r"<(?:str|slug|uuid|path):[^>]+>", "x", path)
    path = re.sub(r"<[^>]+>", "x", path)
    return "/" + path.lstrip("^").rstrip("$")


def _workspace_routes():
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if "<slug:workspace_slug>" in route:
            routes.append((route, pattern))
        elif not any(route.startswith(prefix) for prefix in NOT_TENANT_SCOPED if prefix) and route != "":
            pytest.fail(f"route {route!r} is neither under /w/<slug>/ nor listed in NOT_TENANT_SCOPED")
    return routes


def test_walk_finds_workspace_routes():
    assert len(_workspace_routes()) >= 6


def test_every_workspace_url_returns_404_to_members_of_other_workspaces(client):
    victim = AdminMembershipFactory().workspace
    intruder = AdminMembershipFactory().user  # admin of their own workspace, nothing in the victim's
    client.force_login(intruder)
    for route, _ in _workspace_routes():
        url = _fill(route, victim.slug)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"


def test_unknown_workspace_slug_is_404(client):
    client.force_login(AdminMembershipFactory().user)
    for route, _ in _workspace_routes():
        assert client.get(_fill(route, "no-such-workspace")).status_code == 404


def test_anonymous_users_are_sent_to_login(client):
    workspace = AdminMembershipFactory().workspace
    for route, _ in _workspace_routes():
        response = client.get(_fill(route, workspace.slug))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], route


def test_every_workspace_view_enforces_its_expected_role():
    for route, pattern in _workspace_routes():
        expected = EXPECTED_ROLES.get(pattern.full_name)
        assert expected, f"{pattern.full_name} ({route}) is missing from EXPECTED_ROLES"
        assert getattr(pattern.callback, "workspace_role", None) == expected, pattern.full_name


def test_setters_get_403_on_every_admin_view(client):
    membership = MembershipFactory()
    AdminMembershipFactory(workspace=membership.workspace)
    client.force_login(membership.user)
    admin_routes = [r for r, p in _workspace_routes() if EXPECTED_ROLES[p.full_name] == "admin"]
    assert admin_routes
    for route in admin_routes:
        url = _fill(route, membership.workspace.slug)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 403, f"{method.upper()} {url} answered {response.status_code}"


def test_setters_get_404_on_every_admin_or_404_view(client):
    membership = MembershipFactory()
    client.force_login(membership.user)
    hidden = [r for r, p in _workspace_routes() if EXPECTED_ROLES[p.full_name] == "admin_or_404"]
    assert hidden
    for route in hidden:
        url = _fill(route, membership.workspace.slug)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
