"""Login and password-reset throttling (django-axes and accounts.throttle), against real Postgres."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings

from accounts.models import AuditEvent, PasswordResetRequest
from accounts.tests.factories import PASSWORD, UserFactory
from conftest import run_concurrently

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
RESET = "/accounts/password-reset/"
LIMIT = 5  # AXES_FAILURE_LIMIT (LOGIN_FAILURE_LIMIT)
PER_ADDRESS = 20  # LOGIN_FAILURE_LIMIT_PER_ADDRESS


@pytest.fixture(autouse=True)
def _limits():
    assert settings.AXES_FAILURE_LIMIT == LIMIT and settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS == PER_ADDRESS


def attempt(client, email, password, ip="198.51.100.7", url=LOGIN):
    return client.post(url, {"username": email, "password": password}, REMOTE_ADDR=ip)


def logged_in(client):
    return "_auth_user_id" in client.session


# --- Login ---------------------------------------------------------------------------------------

def test_an_account_locks_after_the_limit_from_one_address_even_with_the_right_password(client, user):
    for _ in range(LIMIT - 1):
        assert attempt(client, user.email, "wrong").status_code == 200
    response = attempt(client, user.email, "wrong")
    assert response.status_code == 429
    assert b"Too many login attempts" in response.content and b"15 minutes" in response.content
    assert b"<!doctype html>" in response.content.lower()  # the dashboard page, not a bare text
    response = attempt(client, user.email, PASSWORD)
    assert response.status_code == 429 and not logged_in(client)


def test_an_account_locks_when_the_failures_come_from_rotating_addresses_and_letter_cases(client, user):
    for n in range(LIMIT):
        email = user.email.upper() if n % 2 else user.email
        attempt(client, email, "wrong", ip=f"203.0.113.{n + 1}")
    # A new address, the right password: the account itself is locked.
    assert attempt(client, user.email, PASSWORD, ip="192.0.2.200").status_code == 429
    assert not logged_in(client)


def test_an_address_locks_after_its_limit_spread_over_many_accounts(client):
    victim = UserFactory()
    for n in range(PER_ADDRESS - 1):
        assert attempt(client, f"guess{n}@example.com", "wrong").status_code == 200
    # Below the address limit, an account there with no failures of its own still logs in.
    assert attempt(client, victim.email, PASSWORD).status_code == 302 and logged_in(client)
    client.logout()
    assert attempt(client, "guess-last@example.com", "wrong").status_code == 429
    # Now every account is refused from that address, and still served from another.
    assert attempt(client, victim.email, PASSWORD).status_code == 429 and not logged_in(client)
    assert attempt(client, victim.email, PASSWORD, ip="192.0.2.9").status_code == 302 and logged_in(client)


def test_a_success_forgets_the_accounts_failures_but_not_the_addresses(client, user):
    for _ in range(LIMIT - 1):
        attempt(client, user.email, "wrong")
    assert attempt(client, user.email, PASSWORD).status_code == 302 and logged_in(client)
    client.logout()
    for _ in range(LIMIT - 1):
        assert attempt(client, user.email, "wrong").status_code == 200
    assert attempt(client, user.email, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username=user.email).exists()
    client.logout()

    # An attacker's own successful login does not wipe what the address did to other accounts.
    own = UserFactory()
    for n in range(PER_ADDRESS - 1):
        attempt(client, f"spray{n}@example.com", "wrong")
    client.logout()
    assert attempt(client, own.email, PASSWORD).status_code == 302
    client.logout()
    assert attempt(client, "spray-more@example.com", "wrong").status_code == 429


def test_the_lockout_ends_after_the_cool_off(client, user):
    for _ in range(LIMIT):
        attempt(client, user.email, "wrong")
    assert attempt(client, user.email, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14))
    assert attempt(client, user.email, PASSWORD).status_code == 429  # attempts during a lockout count too
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert attempt(client, user.email, PASSWORD).status_code == 302 and logged_in(client)


def test_the_django_admin_login_is_throttled_too(client):
    root = UserFactory(email="root@sidekick.test")
    for _ in range(LIMIT):
        attempt(client, root.email, "wrong", url=ADMIN_LOGIN)
    response = attempt(client, root.email, PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429 and b"Too many login attempts" in response.content
    assert not logged_in(client)
    # The same account is locked on the dashboard login as well.
    assert attempt(client, root.email, PASSWORD).status_code == 429
    event = AuditEvent.objects.get(verb="login.locked_out")
    assert event.data["admin"] is True and event.data["email"] == root.email


def test_a_lockout_writes_one_audit_event_per_period(client, user):
    for _ in range(LIMIT - 1):
        attempt(client, user.email, "wrong")
    assert not AuditEvent.objects.filter(verb="login.locked_out").exists()
    for _ in range(3):
        attempt(client, user.email, "wrong")
    event = AuditEvent.objects.get(verb="login.locked_out")
    assert event.target == f"{user.email} from 198.51.100.7" and event.workspace is None
    assert event.data["ip_address"] == "198.51.100.7" and event.data["admin"] is False


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_the_address_is_the_one_it_appended(client, user):
    # Everyone reaches Sidekick from the proxy's address; the client forges the left of the header.
    for n in range(LIMIT):
        client.post(LOGIN, {"username": f"x{n}@example.com", "password": "wrong"}, REMOTE_ADDR="10.0.0.2",
                    HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.50")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.50"}
    # Another client behind the same proxy is not affected by that address's failures.
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.2",
                           HTTP_X_FORWARDED_FOR="198.51.100.51")
    assert response.status_code == 302


# --- Password reset ------------------------------------------------------------------------------

def reset(client, email, ip="198.51.100.7"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip)


def test_reset_mails_stop_at_the_per_email_limit_with_the_same_answer(client, user):
    answers = [reset(client, user.email.upper() if n % 2 else user.email, ip=f"203.0.113.{n}")
               for n in range(settings.PASSWORD_RESET_LIMIT_PER_EMAIL + 2)]
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_EMAIL
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, "/accounts/password-reset/sent/")}
    # Another address still gets its mail.
    other = UserFactory()
    reset(client, other.email)
    assert mail.outbox[-1].to == [other.email]


def test_existing_and_unknown_emails_get_identical_answers_before_and_past_the_limit(client, user):
    limit = settings.PASSWORD_RESET_LIMIT_PER_EMAIL
    known = [reset(client, user.email) for _ in range(limit + 1)]
    unknown = [reset(client, "nobody@example.com") for _ in range(limit + 1)]
    assert [(r.status_code, r["Location"], r.content) for r in known] == \
           [(r.status_code, r["Location"], r.content) for r in unknown]
    assert len(mail.outbox) == limit
    # The digest, not the address typed, is what is kept.
    assert not PasswordResetRequest.objects.filter(email_key__icontains="nobody").exists()


def test_reset_mails_stop_at_the_per_address_limit(client):
    users = UserFactory.create_batch(settings.PASSWORD_RESET_LIMIT_PER_ADDRESS + 2)
    answers = [reset(client, u.email) for u in users]
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_ADDRESS
    assert {a.status_code for a in answers} == {302}
    # The last two accounts were refused from that address, not from another one.
    reset(client, users[-1].email, ip="192.0.2.77")
    assert mail.outbox[-1].to == [users[-1].email]


def test_reset_requests_older_than_an_hour_no_longer_count(client, user):
    for _ in range(settings.PASSWORD_RESET_LIMIT_PER_EMAIL):
        reset(client, user.email)
    reset(client, user.email)
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_EMAIL
    PasswordResetRequest.objects.update(created_at=PasswordResetRequest.objects.first().created_at - timedelta(minutes=61))
    reset(client, user.email)
    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_EMAIL + 1
    assert PasswordResetRequest.objects.count() == 1  # the expired rows were removed


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_reset_requests_sends_no_more_than_the_limit(user):
    from django.test import Client

    limit = settings.PASSWORD_RESET_LIMIT_PER_EMAIL

    def request():
        try:
            assert Client().post(RESET, {"email": user.email}, REMOTE_ADDR="198.51.100.9").status_code == 302
        finally:
            connection.close()

    run_concurrently(*[request for _ in range(limit * 2)])
    assert len(mail.outbox) == limit
    assert PasswordResetRequest.objects.count() == limit
