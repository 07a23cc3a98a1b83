"""sidekick_project.db helpers."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import PromptRevision
from conversations.tests.factories import ThreadFactory
from sidekick_project.db import first_unordered

pytestmark = pytest.mark.django_db


def test_first_unordered_returns_the_row_or_none_without_an_order_by():
    workspace = ThreadFactory().workspace
    revision = PromptRevision.objects.create(workspace=workspace, number=1, text="Be kind.")
    with CaptureQueriesContext(connection) as queries:
        found = first_unordered(PromptRevision.objects.filter(pk=revision.pk))  # Meta.ordering: -number
        missing = first_unordered(PromptRevision.objects.filter(pk=revision.pk + 1))
    assert (found, missing) == (revision, None)
    assert all("ORDER BY" not in q["sql"] and "LIMIT 1" in q["sql"] for q in queries.captured_queries)
