"""Two admins taking each other's admin rights at the same moment: one of them must keep it."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts import services
from accounts.models import Membership, Role
from accounts.tests.factories import AdminMembershipFactory
from conftest import run_concurrently


@pytest.mark.django_db(transaction=True)
def test_two_admins_cannot_demote_and_remove_each_other_at_once(monkeypatch):
    a = AdminMembershipFactory()
    b = AdminMembershipFactory(workspace=a.workspace)
    # Each change pauses right after its "another admin remains" check until the other has checked too
    # (or 2 s passed): without a per-workspace lock both checks see the other admin and both commit.
    both_checked = threading.Barrier(2, timeout=2)
    check = services._ensure_another_admin

    def check_then_wait(membership):
        check(membership)
        try:
            both_checked.wait()
        except threading.BrokenBarrierError:
            pass  # the other change is waiting for our lock: go on and commit

    monkeypatch.setattr(services, "_ensure_another_admin", check_then_wait)
    refused = []

    def run(change):
        try:
            change()
        except ValidationError as exc:
            refused.append(exc)
        finally:
            connection.close()

    run_concurrently(lambda: run(lambda: services.member_role_change(membership=b, role=Role.SETTER, actor=a.user)),
                     lambda: run(lambda: services.member_remove(membership=a, actor=b.user)))
    assert len(refused) == 1 and "at least one admin" in str(refused[0])
    assert Membership.objects.filter(workspace=a.workspace, role=Role.ADMIN).count() == 1
