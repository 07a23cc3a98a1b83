"""The pipeline's database work per reply stays small: its overhead is mostly round trips."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Decision
from conversations.pipeline.engine import reply_pipeline_run
from conversations.sending import message_send
from conversations.tests.pipeline_fixtures import draft_reply, review
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 43


def _warm_thread(scene, fake_llm):
    """A provider, one FAQ entry and a first exchange, so the measured reply is a thread's second."""
    fake_llm.provider(scene.workspace)
    faq_create(workspace=scene.workspace, question="How much is a session?", answer="$80.", actor=None)
    warm = scene.inbound("hello")
    fake_llm.queue(Reply.structured(draft_reply(intent="small_talk")), Reply.structured(review()))
    reply_pipeline_run(message_id=warm.pk)
    scene.outbound("Hi!")


def test_sent_reply_query_budget(scene, fake_llm):
    _warm_thread(scene, fake_llm)
    message = scene.inbound("how much is a session?")
    fake_llm.queue(Reply.structured(draft_reply("$80 per session.", cited_source_ids=["K1"])),
                   Reply.structured(review()))
    with CaptureQueriesContext(connection) as queries:
        draft = reply_pipeline_run(message_id=message.pk)
        message_send(message_id=draft.outbound_message_id)
    assert draft.decision in (Decision.SENT, Decision.DRAFT_SAVED)
    assert len(queries) <= QUERY_BUDGET, len(queries)


AUTOCOMMIT_BUDGET = 28  # statements of one sent reply as a worker runs it (the send: claim, Graph, one record)


@pytest.mark.django_db(transaction=True)
def test_sent_reply_query_budget_in_autocommit(scene, fake_llm):
    """As in production (no test transaction around it): BEGIN and COMMIT count, savepoints do not occur,
    and each model call's quota reservation is one round trip."""
    _warm_thread(scene, fake_llm)
    message = scene.inbound("thanks, how much is a session?")
    fake_llm.queue(Reply.structured(draft_reply("$80 per session.", intent="small_talk")), Reply.structured(review()))
    with CaptureQueriesContext(connection) as queries:
        draft = reply_pipeline_run(message_id=message.pk)  # sends inline once the decision commits
    assert draft.decision == Decision.SENT
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("pg_advisory_xact_lock" in s for s in sql) == 2 and not any("advisory_unlock" in s for s in sql)
    assert len(queries) <= AUTOCOMMIT_BUDGET, "\n".join(s[:120] for s in sql)
