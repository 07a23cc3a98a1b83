import pytest
from django.apps import apps
from django.test import override_settings
from django.urls import reverse

from accounts.models import is_superadmin_email
from accounts.tests.factories import AdminMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ALLOWLIST = frozenset({"ops@sidekick.test", "cto@sidekick.test"})


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
@pytest.mark.parametrize("email", ["ops@sidekick.test", "OPS@Sidekick.TEST", "Cto@sidekick.test"])
def test_allowlisted_emails_match_case_insensitively(email):
    assert is_superadmin_email(email)
    assert UserFactory(email=email).is_superadmin


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
@pytest.mark.parametrize("email", [
    "ops@sidekick.tes",                 # truncated domain
    "ops@sidekick.test.evil.com",       # suffix
    "xops@sidekick.test",               # prefix
    "ops+admin@sidekick.test",          # sub-address
    " ops@sidekick.test",               # padding is not trimmed away
    "ops@sidekick.test ",
    "ops@sidekíck.test",                # look-alike letter
    "ops@sub.sidekick.test",
    "",
    None,
])
def test_near_miss_emails_are_rejected(email):
    assert not is_superadmin_email(email)


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_inactive_allowlisted_user_is_not_superadmin():
    assert not UserFactory(email="ops@sidekick.test", is_active=False).is_superadmin


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_only_superadmins_reach_the_django_admin(client):
    workspace_admin = AdminMembershipFactory().user
    client.force_login(workspace_admin)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

    client.force_login(UserFactory(email="Ops@Sidekick.test"))
    assert client.get("/admin/").status_code == 200


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_removing_an_email_from_the_allowlist_revokes_access_at_once(client):
    client.force_login(UserFactory(email="ops@sidekick.test"))
    assert client.get("/admin/").status_code == 200
    with override_settings(SUPERADMIN_EMAILS=frozenset({"cto@sidekick.test"})):
        assert client.get("/admin/").status_code == 302


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_every_admin_changelist_loads_and_searches(client):
    """Each registered model has a working list display and search, with data present."""
    from django.contrib import admin

    AdminMembershipFactory()
    client.force_login(UserFactory(email="ops@sidekick.test"))
    registered = [model for model in apps.get_models() if model in admin.site._registry]
    assert registered, "no models registered in the admin"
    for model in registered:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, f"{model.__name__} admin has no search_fields"
        assert model_admin.list_display != ("__str__",), f"{model.__name__} admin has no list_display"
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "example"}).status_code == 200, url


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_superadmin_sees_every_workspace_without_membership(client):
    other = AdminMembershipFactory().workspace
    client.force_login(UserFactory(email="cto@sidekick.test"))
    response = client.get(reverse("insights:overview", args=[other.slug]))
    assert response.status_code == 200
    assert other.name.encode() in response.content


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_services_accept_a_superadmin_as_workspace_admin_and_refuse_setters():
    from django.core.exceptions import PermissionDenied

    from accounts.tenancy import require_workspace_admin
    from accounts.tests.factories import MembershipFactory

    setter = MembershipFactory()
    workspace_id = setter.workspace_id
    require_workspace_admin(workspace_id=workspace_id, actor=UserFactory(email="ops@sidekick.test"))
    require_workspace_admin(workspace_id=workspace_id, actor=AdminMembershipFactory(workspace=setter.workspace).user)
    with pytest.raises(PermissionDenied):
        require_workspace_admin(workspace_id=workspace_id, actor=setter.user)
    with pytest.raises(PermissionDenied):
        require_workspace_admin(workspace_id=workspace_id, actor=AdminMembershipFactory().user)  # another workspace


@override_settings(SUPERADMIN_EMAILS=ALLOWLIST)
def test_a_superadmin_with_a_setter_membership_is_still_an_admin_there(client):
    from accounts.tests.factories import MembershipFactory

    membership = MembershipFactory(user=UserFactory(email="ops@sidekick.test"))  # role setter
    client.force_login(membership.user)
    response = client.get(reverse("accounts:audit_log", args=[membership.workspace.slug]))  # admin only
    assert response.status_code == 200
