import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership, Role
from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the email is sent on commit


def _invite(client, admin_membership, email, role="setter"):
    client.force_login(admin_membership.user)
    url = reverse("accounts:member_invite", args=[admin_membership.workspace.slug])
    return client.post(url, {"email": email, "role": role})


def _link_from_last_email():
    match = re.search(r"http://[^\s]+/invite/([^/\s]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return f"/invite/{match.group(1)}/", match.group(1)


def test_new_person_accepts_invitation_sets_password_and_lands_in_workspace(client):
    admin = AdminMembershipFactory()
    response = _invite(client, admin, "New.Person@Example.com", role="admin")
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["New.Person@Example.com"]
    path, token = _link_from_last_email()
    invitation = Invitation.objects.get()
    assert invitation.token_hash != token and token not in invitation.token_hash  # only a hash is stored

    client.logout()
    assert client.get(path).status_code == 200
    response = client.post(path, {"full_name": "New Person", "password1": "a-Long-enough-pass-42",
                                  "password2": "a-Long-enough-pass-42"})
    assert response.status_code == 302
    assert response["Location"] == reverse("insights:overview", args=[admin.workspace.slug])
    membership = Membership.objects.get(workspace=admin.workspace, user__email__iexact="new.person@example.com")
    assert membership.role == Role.ADMIN
    assert client.get(response["Location"]).status_code == 200  # logged in
    assert AuditEvent.objects.filter(verb="invitation.accepted", workspace=admin.workspace).exists()
    # The link works once.
    client.logout()
    assert client.get(path).status_code == 404


def test_weak_or_mismatched_password_keeps_invitation_open(client):
    admin = AdminMembershipFactory()
    _invite(client, admin, "p@example.com")
    path, _ = _link_from_last_email()
    client.logout()
    response = client.post(path, {"password1": "short", "password2": "short"})
    assert response.status_code == 400
    response = client.post(path, {"password1": "a-Long-enough-pass-42", "password2": "different-pass-42"})
    assert response.status_code == 400
    assert Invitation.objects.get().accepted_at is None
    assert not Membership.objects.filter(user__email="p@example.com").exists()


def test_existing_user_must_log_in_as_the_invited_address(client):
    admin = AdminMembershipFactory()
    existing = UserFactory(email="known@example.com")
    _invite(client, admin, "KNOWN@example.com")
    path, _ = _link_from_last_email()

    client.logout()
    response = client.get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    client.force_login(UserFactory(email="someone-else@example.com"))
    assert client.post(path).status_code == 400
    assert not Membership.objects.filter(user=existing, workspace=admin.workspace).exists()

    client.force_login(existing)
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(user=existing, workspace=admin.workspace, role=Role.SETTER).exists()


def test_expired_and_revoked_invitations_are_refused(client):
    admin = AdminMembershipFactory()
    _invite(client, admin, "late@example.com")
    path, _ = _link_from_last_email()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.logout()
    assert client.get(path).status_code == 404

    _invite(client, admin, "revoked@example.com")
    path, _ = _link_from_last_email()
    invitation = Invitation.objects.get(email="revoked@example.com")
    client.post(reverse("accounts:invitation_revoke", args=[admin.workspace.slug, invitation.pk]))
    client.logout()
    assert client.get(path).status_code == 404


def test_reinviting_replaces_the_pending_invitation(client):
    admin = AdminMembershipFactory()
    _invite(client, admin, "twice@example.com")
    first_path, _ = _link_from_last_email()
    _invite(client, admin, "twice@example.com")
    client.logout()
    assert client.get(first_path).status_code == 404
    assert Invitation.objects.filter(email="twice@example.com", revoked_at=None).count() == 1


def test_inviting_an_existing_member_is_refused_with_a_message(client):
    admin = AdminMembershipFactory()
    member = MembershipFactory(workspace=admin.workspace)
    response = _invite(client, admin, member.user.email.upper())
    assert response.status_code == 302
    assert not Invitation.objects.exists()
    page = client.get(reverse("accounts:members", args=[admin.workspace.slug]))
    assert b"already a member" in page.content


def test_invalid_email_is_refused(client):
    admin = AdminMembershipFactory()
    _invite(client, admin, "not-an-email")
    assert not Invitation.objects.exists()
    assert len(mail.outbox) == 0


def test_login_with_email_any_case(client):
    user = UserFactory(email="case@example.com")
    response = client.post(reverse("accounts:login"), {"username": "CASE@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_double_submitted_acceptance_joins_once_and_changes_nothing_the_second_time(client):
    """Both submissions found the invitation usable (they arrived together): the second is refused and its
    password is not kept."""
    from django.core.exceptions import ValidationError

    from accounts import services

    admin = AdminMembershipFactory()
    _invite(client, admin, "twice@example.com")
    stale = Invitation.objects.get()  # as both requests loaded it
    user = services.invitation_accept_as_new_user(invitation=stale, full_name="Twice", password="first-Long-pass-42")
    with pytest.raises(ValidationError, match="already used"):
        services.invitation_accept_as_new_user(invitation=stale, full_name="Other", password="second-Long-pass-42")
    user.refresh_from_db()
    assert user.check_password("first-Long-pass-42") and user.full_name == "Twice"
    assert Membership.objects.filter(workspace=admin.workspace).count() == 2


def test_a_refused_acceptance_shows_a_page_not_an_error(client, monkeypatch):
    from django.core.exceptions import ValidationError

    from accounts import views

    admin = AdminMembershipFactory()
    _invite(client, admin, "late@example.com")
    path, _ = _link_from_last_email()
    client.logout()

    def refuse(**kwargs):
        raise ValidationError("This invitation has expired or was already used. Ask an admin for a new one.")

    monkeypatch.setattr(views.services, "invitation_accept_as_new_user", refuse)
    response = client.post(path, {"full_name": "Late", "password1": "a-Long-enough-pass-42",
                                  "password2": "a-Long-enough-pass-42"})
    assert response.status_code == 409 and b"can't be used" in response.content
    assert not Membership.objects.filter(user__email="late@example.com").exists()


def test_acceptance_as_a_new_user_refuses_once_the_address_has_a_password(client):
    """Someone set a password for the invited address meanwhile (reset link, another invitation): the new-user
    form must not overwrite it; they log in and accept as themselves."""
    from django.core.exceptions import ValidationError

    from accounts import services

    admin = AdminMembershipFactory()
    _invite(client, admin, "meanwhile@example.com")
    invitation = Invitation.objects.get()
    user = UserFactory(email="meanwhile@example.com")  # has a usable password
    with pytest.raises(ValidationError, match="has a password now"):
        services.invitation_accept_as_new_user(invitation=invitation, full_name="X", password="other-Long-pass-42")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    invitation.refresh_from_db()
    assert invitation.accepted_at is None and not Membership.objects.filter(user=user).exists()
