"""Throttling of login and password-reset attempts, per account and per client address.

Login: django-axes (AUTHENTICATION_BACKENDS, AXES_* settings) with the handler below; its state is in
Postgres, like the reset counts here, so logging in never depends on Redis.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_ip_address, get_lockout_parameters
from axes.signals import user_locked_out
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import AuditEvent, PasswordResetRequest

logger = logging.getLogger(__name__)

RESET_WINDOW = timedelta(hours=1)


def normalized_email(value: str | None) -> str:
    """The form the login backend matches on (case-insensitive), so `A@x.test` and `a@x.test ` count as one."""
    return unicodedata.normalize("NFKC", value or "").strip().casefold()


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry the nearest
    trusted one appended to X-Forwarded-For (entries further left come from the client and can be forged)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR")


def login_username(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the attempted email, normalized, so case variants share one counter."""
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    else:
        value = request.POST.get("username")
    return normalized_email(value) or None


class AccountOrAddressHandler(AxesDatabaseHandler):
    """Axes' database handler with a separate limit per address.

    Axes compares one number, the largest failure count over its lockout parameters, with one limit
    (AXES_FAILURE_LIMIT). An office behind one address would be locked out by a few colleagues' typos
    at the per-account limit, so the address count is scaled: LOGIN_FAILURE_LIMIT_PER_ADDRESS failures
    from one address weigh as much as AXES_FAILURE_LIMIT on one account.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        parameters = get_lockout_parameters(request, credentials)
        failures = 0
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "ip_address":
                count = count * settings.AXES_FAILURE_LIMIT // settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS
            failures = max(failures, count)
        return failures

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """After a successful login, forget that account's failures only.

        Axes would also clear every failure from the address, so an attacker spraying passwords over
        many accounts could log into an account of their own now and then to reset the address count.
        """
        username = login_username(request, credentials)
        return self.reset_attempts(username=username) if username else 0


@receiver(user_locked_out, dispatch_uid="accounts.throttle.audit_lockout")
def audit_lockout(sender, request, username: str | None, ip_address: str | None, **kwargs) -> None:
    """One `login.locked_out` audit event per account and address per cool-off period.

    Axes signals again on every attempt made while locked out; one row per lockout keeps the audit
    trail readable and bounded under attack.
    """
    target = f"{username or '?'} from {ip_address or '?'}"[:200]
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    if AuditEvent.objects.filter(verb="login.locked_out", target=target, created_at__gte=since).exists():
        return
    AuditEvent.objects.create(
        verb="login.locked_out", target=target,
        data={"email": username or "", "ip_address": ip_address or "", "path": request.path,
              "admin": request.path.startswith("/admin/")},
    )
    logger.warning("login locked out after repeated failures", extra={"ip_address": ip_address, "path": request.path})


def lockout_response(request, original_response=None, credentials: dict | None = None):
    """AXES_LOCKOUT_CALLABLE: a 429 page in the dashboard's style, with the wait in minutes."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/lockout.html", {"cooloff_minutes": minutes}, status=429)


def _email_key(email: str) -> str:
    # Addresses people typed, existing or not, are kept only as a keyed digest.
    return salted_hmac("accounts.password-reset-throttle", normalized_email(email)).hexdigest()


def password_reset_request_admit(*, email: str, ip_address: str | None) -> bool:
    """Record a reset request and say whether a mail may go out, or False past a limit in the last hour.

    Only admitted requests are recorded, so the table holds at most the limits' worth of rows per
    address and email. Advisory locks on both keys make the count-then-insert exact under
    concurrent requests (without them, a burst could each see room and all send).
    """
    key = _email_key(email)
    ip_address = ip_address or ""
    since = timezone.now() - RESET_WINDOW
    with transaction.atomic():
        with connection.cursor() as cursor:
            for lock in sorted({f"reset-email:{key}", f"reset-ip:{ip_address}"}):
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock])
        PasswordResetRequest.objects.filter(created_at__lt=since).delete()
        recent = PasswordResetRequest.objects.filter(created_at__gte=since)
        if recent.filter(email_key=key).count() >= settings.PASSWORD_RESET_LIMIT_PER_EMAIL:
            logger.warning("password reset throttled: too many requests for one email", extra={"ip_address": ip_address})
            return False
        if recent.filter(ip_address=ip_address).count() >= settings.PASSWORD_RESET_LIMIT_PER_ADDRESS:
            logger.warning("password reset throttled: too many requests from one address", extra={"ip_address": ip_address})
            return False
        PasswordResetRequest.objects.create(email_key=key, ip_address=ip_address)
    return True


def request_client_ip(request) -> str | None:
    """The address axes records for this request (the same AXES_CLIENT_IP_CALLABLE)."""
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
