from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent, Membership, Role, User
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_home_redirects_to_the_users_workspace(client):
    membership = MembershipFactory()
    client.force_login(membership.user)
    response = client.get("/")
    assert response["Location"] == reverse("insights:overview", args=[membership.workspace.slug])


def test_home_without_workspace_explains_what_to_do(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No workspace yet" in response.content


def test_home_remembers_the_last_workspace(client):
    first = MembershipFactory()
    second = MembershipFactory(user=first.user)
    client.force_login(first.user)
    client.get(reverse("insights:overview", args=[second.workspace.slug]))
    assert client.get("/")["Location"] == reverse("insights:overview", args=[second.workspace.slug])


def test_workspace_switcher_lists_only_own_workspaces(client):
    mine = MembershipFactory()
    other = MembershipFactory()
    client.force_login(mine.user)
    page = client.get(reverse("insights:overview", args=[mine.workspace.slug])).content.decode()
    assert mine.workspace.name in page
    assert other.workspace.name not in page


def test_setter_sees_members_but_no_admin_controls(client):
    setter = MembershipFactory()
    AdminMembershipFactory(workspace=setter.workspace)
    client.force_login(setter.user)
    page = client.get(reverse("accounts:members", args=[setter.workspace.slug])).content.decode()
    assert setter.user.email in page
    assert "Invite someone" not in page
    assert "Audit log" not in page


def test_admin_changes_role_and_it_is_audited(client):
    admin = AdminMembershipFactory()
    setter = MembershipFactory(workspace=admin.workspace)
    client.force_login(admin.user)
    url = reverse("accounts:member_role", args=[admin.workspace.slug, setter.pk])
    response = client.post(url, {"role": "admin"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b'id="member-area"' in response.content and b"<html" not in response.content  # the fragment only
    setter.refresh_from_db()
    assert setter.role == Role.ADMIN
    event = AuditEvent.objects.get(verb="member.role_changed")
    assert event.actor == admin.user and event.data == {"email": setter.user.email, "from": "setter", "to": "admin"}


def test_last_admin_cannot_be_demoted_or_removed(client):
    admin = AdminMembershipFactory()
    client.force_login(admin.user)
    client.post(reverse("accounts:member_role", args=[admin.workspace.slug, admin.pk]), {"role": "setter"})
    client.post(reverse("accounts:member_remove", args=[admin.workspace.slug, admin.pk]))
    admin.refresh_from_db()
    assert admin.role == Role.ADMIN
    page = client.get(reverse("accounts:members", args=[admin.workspace.slug]))
    assert b"at least one admin" in page.content


def test_admin_removes_member(client):
    admin = AdminMembershipFactory()
    setter = MembershipFactory(workspace=admin.workspace)
    client.force_login(admin.user)
    client.post(reverse("accounts:member_remove", args=[admin.workspace.slug, setter.pk]))
    assert not Membership.objects.filter(pk=setter.pk).exists()
    assert AuditEvent.objects.filter(verb="member.removed", workspace=admin.workspace).exists()


def test_admin_cannot_touch_a_membership_of_another_workspace(client):
    admin = AdminMembershipFactory()
    foreign = MembershipFactory()
    client.force_login(admin.user)
    response = client.post(reverse("accounts:member_remove", args=[admin.workspace.slug, foreign.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_invalid_role_is_refused(client):
    admin = AdminMembershipFactory()
    setter = MembershipFactory(workspace=admin.workspace)
    client.force_login(admin.user)
    client.post(reverse("accounts:member_role", args=[admin.workspace.slug, setter.pk]), {"role": "owner"})
    setter.refresh_from_db()
    assert setter.role == Role.SETTER


def test_password_reset_sends_a_link_that_works(client, user):
    response = client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split(settings.SITE_URL, 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-991",
                                                             "new_password2": "Brand-new-pass-991"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Brand-new-pass-991")


def test_a_member_created_without_a_password_sets_one_through_the_reset_link(client):
    from django.core.management import call_command

    call_command("create_workspace", "nopass", name="No Pass", admin="Boss@NoPass.test", stdout=StringIO())
    user = User.objects.get(email__iexact="boss@nopass.test")
    assert not user.has_usable_password()
    assert client.post(reverse("accounts:password_reset"), {"email": "boss@nopass.test"}).status_code == 302
    assert [m.to for m in mail.outbox] == [[user.email]]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    form_page = client.get(link.split(settings.SITE_URL, 1)[1], follow=True)
    client.post(form_page.redirect_chain[-1][0], {"new_password1": "First-pass-8812", "new_password2": "First-pass-8812"})
    user.refresh_from_db()
    assert user.check_password("First-pass-8812")
    # An inactive member or an unknown address still gets nothing.
    User.objects.filter(pk=user.pk).update(is_active=False)
    client.post(reverse("accounts:password_reset"), {"email": "boss@nopass.test"})
    client.post(reverse("accounts:password_reset"), {"email": "nobody@nopass.test"})
    assert len(mail.outbox) == 1


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_when_redis_is_unreachable(client, tmp_path):
    from django.core.cache import caches
    from django.test import override_settings

    dead = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": f"unix://{tmp_path}/nothing.sock"}}
    with override_settings(CACHES=dead):
        caches._settings = caches.settings = dead  # drop the cached handler config
        try:
            del caches["default"]
        except (AttributeError, KeyError):
            pass
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["database"] == "ok"
