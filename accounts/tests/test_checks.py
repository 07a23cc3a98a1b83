"""accounts.E001: with DEBUG off, e-mail must go to a real backend (reset links never land in logs)."""

import pytest
from django.test import override_settings

from accounts.checks import email_backend_check
from sidekick_project.tests.test_settings import _manage


@pytest.mark.parametrize("backend", [
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "no.such.EmailBackend",
])
def test_debug_off_with_an_undelivering_backend_is_an_error(backend):
    with override_settings(DEBUG=False, EMAIL_BACKEND=backend):
        errors = email_backend_check(None)
    assert [e.id for e in errors] == ["accounts.E001"]
    assert errors[0].is_serious() and "EMAIL_URL" in errors[0].hint


@pytest.mark.parametrize(("debug", "backend"), [
    (False, "django.core.mail.backends.smtp.EmailBackend"),
    (False, "django.core.mail.backends.filebased.EmailBackend"),
    (True, "django.core.mail.backends.console.EmailBackend"),
])
def test_a_real_backend_or_debug_on_passes(debug, backend):
    with override_settings(DEBUG=debug, EMAIL_BACKEND=backend):
        assert email_backend_check(None) == []


@pytest.mark.slow
def test_manage_check_refuses_debug_off_without_email_url_and_passes_with_one():
    refused = _manage("check", EMAIL_URL="")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "accounts.E001" in refused.stderr and "EMAIL_URL" in refused.stderr
    printed = _manage("check", EMAIL_URL="consolemail://")
    assert printed.returncode == 1 and "accounts.E001" in printed.stderr
    passed = _manage("check", EMAIL_URL="smtp+tls://sidekick:secret@smtp.example.com:587")
    assert passed.returncode == 0, passed.stdout + passed.stderr
