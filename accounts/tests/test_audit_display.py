"""The audit log shows details as readable fields (label: value), never a JSON or dict dump (#18)."""

import pytest
from django.urls import reverse

from accounts.services import audit_event_record
from accounts.templatetags.audit import readable_fields, verb_label
from accounts.tests.factories import AdminMembershipFactory

pytestmark = pytest.mark.django_db


def test_audit_details_are_readable_fields(client):
    admin = AdminMembershipFactory()
    audit_event_record(verb="sidekick.settings_updated", workspace=admin.workspace, actor=admin.user,
                       data={"threshold": {"from": "0.8", "to": "0.9"}, "blacklist": ["refunds", "lawsuits"],
                             "auto_send": False, "note": ""})
    client.force_login(admin.user)
    html = client.get(reverse("accounts:audit_log", args=[admin.workspace.slug])).content.decode()
    assert "Sidekick: settings updated" in html
    assert "<dt>Threshold · from</dt><dd>0.8</dd>" in html and "<dt>Threshold · to</dt><dd>0.9</dd>" in html
    assert "<dt>Blacklist</dt><dd>refunds, lawsuits</dd>" in html and "<dt>Auto send</dt><dd>no</dd>" in html
    assert "<dt>Note</dt><dd>—</dd>" in html
    table = html[html.index("<table"):html.index("</table>")]
    assert "{&#x27;" not in table and "{'" not in table and '{"' not in table and "&quot;" not in table


def test_values_from_outside_are_escaped(client):
    admin = AdminMembershipFactory()
    audit_event_record(verb="member.invited", workspace=admin.workspace, actor=admin.user,
                       data={"email": "<script>alert(1)</script>@example.com"})
    client.force_login(admin.user)
    html = client.get(reverse("accounts:audit_log", args=[admin.workspace.slug])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in html


def test_readable_fields_shapes():
    assert readable_fields({}) == []
    assert readable_fields(None) == []
    assert readable_fields({"restored_from": None, "ok": True, "n": 3}) == [
        ("Restored from", "—"), ("Ok", "yes"), ("N", "3")]
    assert readable_fields({"a": [{"b": 1}]}) == [("A", "b: 1")]
    assert verb_label("thread.takeover") == "Thread: takeover" and verb_label("login") == "Login"
