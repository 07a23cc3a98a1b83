"""Two people confirming the same change set at once apply it once (the set row is locked)."""

import pytest
from django.db import connection

from changes import services
from changes.services import ChangeSetStateError, OperationSpec
from conftest import run_concurrently
from conversations.models import PromptRevision

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_double_apply_writes_once(workspace, admin):
    cs = services.change_set_preview(workspace=workspace, actor=admin,
                                     operations=[OperationSpec("prompt.revision", {"text": "Once."})])
    outcomes = []

    def confirm():
        try:
            services.change_set_apply(change_set=cs, actor=admin)
            outcomes.append("applied")
        except ChangeSetStateError:
            outcomes.append("refused")
        finally:
            connection.close()

    run_concurrently(confirm, confirm)
    assert sorted(outcomes) == ["applied", "refused"]
    assert PromptRevision.objects.filter(workspace=workspace).count() == 1
