"""Every absolute address Sidekick writes comes from SITE_URL, which follows the port `make run` serves."""

import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import responses
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from accounts.services import invitation_create
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from conversations import escalations, services
from conversations.notifications import escalation_notify
from conversations.tests.factories import ThreadFactory
from integrations.tests.factories import ChannelFactory

BASE_DIR = Path(__file__).resolve().parents[2]
PORT = 8517  # not the default, so a hard-coded :8000 anywhere shows
ADDRESS = re.compile(r"https?://[^\s\"'<>/]+")


def _hosts(text: str) -> set[str]:
    return {m.group(0) for m in ADDRESS.finditer(text)}


def _site_url_with(**overrides) -> str:
    from sidekick_project.tests.test_settings import _production_env

    env = _production_env(DEBUG="1", ALLOWED_HOSTS="", **overrides)
    if "SITE_URL" not in overrides:
        env.pop("SITE_URL", None)
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; "
                           "print(settings.SITE_URL)"], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_site_url_follows_the_port_make_run_serves():
    assert _site_url_with(RUN_PORT=str(PORT)) == f"http://127.0.0.1:{PORT}"
    # A bind-all address is not something to put in a link.
    assert _site_url_with(RUN_PORT=str(PORT), RUN_HOST="0.0.0.0") == f"http://127.0.0.1:{PORT}"
    # An explicit public address (behind a proxy) wins.
    assert _site_url_with(RUN_PORT=str(PORT), SITE_URL="https://sidekick.example.com/") == "https://sidekick.example.com"


@pytest.mark.django_db
def test_no_absolute_address_has_another_port(client, settings, django_capture_on_commit_callbacks):
    settings.SITE_URL = f"http://127.0.0.1:{PORT}"
    settings.META_SANDBOX = True
    expected = {settings.SITE_URL}
    admin = AdminMembershipFactory(user__email="boss@port.test")
    ChannelFactory(workspace=admin.workspace)
    thread = ThreadFactory(workspace=admin.workspace)
    client.force_login(admin.user)

    page = client.get(reverse("integrations:channels", args=[admin.workspace.slug])).content.decode()
    assert f"{settings.SITE_URL}/webhooks/meta/" in page
    for platform in ("instagram", "messenger"):
        assert settings.SITE_URL + reverse(f"integrations:oauth_return_{platform}") in page
    # Pico and the page may link elsewhere (https, no port); only our own host is checked for a port.
    ours = {h for h in _hosts(page) if "127.0.0.1" in h or "localhost" in h or "testserver" in h}
    assert ours == expected, ours

    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(workspace=admin.workspace, email="new@port.test", role="setter", invited_by=admin.user)
    invite_mail = mail.outbox[-1].body

    client.logout()
    client.post(reverse("accounts:password_reset"), {"email": admin.user.email})
    reset_mail = mail.outbox[-1].body
    assert "/accounts/reset/" in reset_mail

    services.sidekick_settings_update(workspace=admin.workspace, actor=admin.user,
                                      escalation_emails=[admin.user.email])
    escalation = escalations.escalation_open(thread=thread, reason_code="human_requested")
    assert escalation_notify(escalation_id=escalation.pk) == 1
    escalation_mail = mail.outbox[-1].body

    for name, body in (("invitation", invite_mail), ("reset", reset_mail), ("escalation", escalation_mail)):
        assert _hosts(body) == expected, (name, body)


@pytest.mark.django_db
@responses.activate
def test_simulate_dm_posts_to_site_url_by_default(settings):
    settings.SITE_URL = f"http://127.0.0.1:{PORT}"
    settings.META_SANDBOX = True
    settings.INSTAGRAM_APP_SECRET = settings.INSTAGRAM_APP_SECRET or "sandbox-secret"
    channel = ChannelFactory(workspace=MembershipFactory().workspace)
    responses.add(responses.POST, f"{settings.SITE_URL}/webhooks/meta/", status=200)
    call_command("simulate_dm", workspace=channel.workspace.slug, platform=channel.platform, sender="5001",
                 text="hi", stdout=StringIO())
    assert [call.request.url for call in responses.calls] == [f"{settings.SITE_URL}/webhooks/meta/"]
