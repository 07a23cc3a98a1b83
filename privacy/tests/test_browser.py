"""The privacy requests page in a real browser at a laptop's and a phone's width: it fits, an admin asks
for a contact's export through the form, and the list shows it with its status and deadline.
Writes docs/screenshots/privacy.png and privacy-phone.png."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory
from privacy import services
from privacy.models import Kind, PrivacyRequest, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_privacy_page_lists_requests_and_fits_a_phone_and_a_laptop(page, screenshot):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test").user
    workspace = admin.memberships.get().workspace
    setter = MembershipFactory(workspace=workspace, user__email="a-setter-with-a-long-address@harbor-light.example").user
    contact = ContactFactory(channel=ChannelFactory(workspace=workspace), username="maria.quintero.yoga")
    other = ContactFactory(channel=contact.channel)
    done = services.privacy_request_user_ai(workspace=workspace, user=admin, kind=Kind.EXPORT)
    services.privacy_request_run(request_id=done.pk)
    services.privacy_request_user_ai(workspace=workspace, user=setter, kind=Kind.ERASURE)
    failed = services.privacy_request_contact(workspace=workspace, contact=other, kind=Kind.ERASURE, actor=admin)
    PrivacyRequest.objects.filter(pk=failed.pk).update(status=Status.FAILED, error="InternalError (see the worker log)")
    connection.close()

    page.set_default_timeout(60_000)  # a first page of a cold live server on a loaded 2-core machine took >10 s
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto("/w/zen/privacy/")
    page.get_by_label("Contact", exact=True).fill("@maria.quintero.yoga")
    page.get_by_role("button", name="Export contact").click()
    page.wait_for_load_state("load")
    row = page.get_by_role("row").filter(has_text=f"contact #{contact.pk}").filter(has_text="Pending")
    assert row.count() == 1
    assert page.get_by_role("button", name="Download").count() == 1  # the admin's own AI-data export
    assert page.get_by_role("button", name="Retry").count() == 1
    assert _overflow(page) <= 0
    screenshot(page, "privacy")

    page.set_viewport_size(PHONE)
    page.reload(wait_until="load")
    assert _overflow(page) <= 0, f"{_overflow(page)} px too wide at 390 px"
    screenshot(page, "privacy-phone")
