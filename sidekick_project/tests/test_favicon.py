"""Browsers ask every site for /favicon.ico: it must not be a 404."""

import pytest
from django.contrib.staticfiles import finders

from accounts.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_icon_and_pages_link_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith(".svg")
    assert "<svg" in open(finders.find("favicon.svg")).read()  # served by whitenoise (the browser test loads it)
    client.force_login(MembershipFactory().user)
    assert '<link rel="icon" href="' in client.get("/accounts/login/", follow=True).content.decode()
