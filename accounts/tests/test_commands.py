from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import AuditEvent, Membership, Role, User, Workspace

pytestmark = pytest.mark.django_db


def _run(*args, **kwargs):
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_create_workspace_with_admin_and_password():
    output = _run("create_workspace", "acme", name="Acme", admin="Boss@Acme.test", password="Sturdy-pass-123")
    assert "Created workspace 'acme'" in output
    workspace = Workspace.objects.get(slug="acme")
    membership = Membership.objects.get(workspace=workspace)
    assert membership.role == Role.ADMIN
    assert membership.user.check_password("Sturdy-pass-123")
    assert AuditEvent.objects.filter(verb="workspace.created", workspace=workspace).exists()


def test_create_workspace_without_password_leaves_login_to_password_reset():
    _run("create_workspace", "acme", name="Acme", admin="boss@acme.test")
    assert not User.objects.get(email="boss@acme.test").has_usable_password()


@pytest.mark.parametrize(("slug", "extra", "message"), [
    ("Bad Slug", {}, "lower-case letters"),
    ("dash-", {}, "lower-case letters"),
    ("ok", {"timezone": "Nowhere/City"}, "not a known time zone"),
])
def test_create_workspace_rejects_bad_input(slug, extra, message):
    with pytest.raises(CommandError, match=message):
        _run("create_workspace", slug, name="X", admin="a@b.test", **extra)
    assert not Workspace.objects.exists()
    assert not User.objects.exists()  # nothing half-created


def test_create_workspace_refuses_duplicate_slug():
    _run("create_workspace", "acme", name="Acme", admin="a@acme.test")
    with pytest.raises(CommandError, match="already exists"):
        _run("create_workspace", "acme", name="Other", admin="b@acme.test")


def test_add_member_creates_user_and_changes_role():
    _run("create_workspace", "acme", name="Acme", admin="a@acme.test")
    _run("add_member", "acme", "s@acme.test", role="setter")
    assert Membership.objects.get(user__email="s@acme.test").role == Role.SETTER
    _run("add_member", "acme", "S@ACME.test", role="admin")
    assert Membership.objects.get(user__email="s@acme.test").role == Role.ADMIN
    assert User.objects.filter(email__iexact="s@acme.test").count() == 1


def test_add_member_errors():
    with pytest.raises(CommandError, match="No workspace"):
        _run("add_member", "ghost", "s@acme.test", role="setter")
    with pytest.raises(CommandError):
        _run("add_member", "ghost", "s@acme.test", role="owner")


def test_seed_demo_is_repeatable_and_prints_a_working_password(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = _run("seed_demo")
    second = _run("seed_demo")
    password = (tmp_path / "demo-password.txt").read_text().strip()
    assert f"password {password}" in first and f"password {password}" in second
    assert (tmp_path / "demo-password.txt").stat().st_mode & 0o777 == 0o600  # owner only
    admin = User.objects.get(email="admin@example.com")
    assert admin.check_password(password)
    roles = dict(Membership.objects.filter(workspace__slug="demo").values_list("user__email", "role"))
    assert roles == {"admin@example.com": "admin", "setter@example.com": "setter"}
    # The sample knowledge is loaded once, however often the demo is seeded.
    from knowledge.models import Document, DocumentRevision, FaqEntry

    assert FaqEntry.objects.filter(workspace__slug="demo", is_active=True).count() == 8
    assert Document.objects.filter(workspace__slug="demo").count() == 3
    assert DocumentRevision.objects.filter(document__workspace__slug="demo").count() == 3
