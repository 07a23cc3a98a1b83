"""The pipeline's database work per reply stays small: its overhead is mostly round trips."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Decision
from conversations.pipeline.engine import reply_pipeline_run
from conversations.sending import message_send
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

# 43 before the screening model (auto-send safety); its call adds two: the quota reservation and the usage row.
# Issue 19 made the local embedding model the default, so retrieval is hybrid: inside a transaction the
# vector side runs in the caller (savepoint, SET LOCAL hnsw.ef_search, the search, release): four more.
# In autocommit (production, next test) it runs on a helper thread's own connection: no change there.
QUERY_BUDGET = 49


def _warm_thread(scene, fake_llm):
    """A provider, one FAQ entry and a first exchange, so the measured reply is a thread's second."""
    fake_llm.provider(scene.workspace)
    faq = faq_create(workspace=scene.workspace, question="How much is a session?", answer="A session is $80.",
                     actor=None)
    warm = scene.inbound("hello")
    fake_llm.queue(Reply.structured(draft_reply("Hi! How can I help?", intent="small_talk")),
                   Reply.structured(review()), Reply.structured(screen()))
    assert reply_pipeline_run(message_id=warm.pk).decision == Decision.SENT
    scene.outbound("Hi!")
    return f"K{faq.chunks.get().pk}"


def test_sent_reply_query_budget(scene, fake_llm):
    source = _warm_thread(scene, fake_llm)
    message = scene.inbound("how much is a session?")
    fake_llm.queue(Reply.structured(draft_reply("A session is $80.", cited_source_ids=[source])),
                   Reply.structured(review()), Reply.structured(screen()))
    with CaptureQueriesContext(connection) as queries:
        draft = reply_pipeline_run(message_id=message.pk)
        message_send(message_id=draft.outbound_message_id)
    assert draft.decision in (Decision.SENT, Decision.DRAFT_SAVED)
    assert len(queries) <= QUERY_BUDGET, len(queries)


AUTOCOMMIT_BUDGET = 30  # statements of one sent reply as a worker runs it (the send: claim, Graph, one record);
# 28 before the screening model, whose call adds its quota reservation and its usage row


@pytest.mark.django_db(transaction=True)
def test_sent_reply_query_budget_in_autocommit(scene, fake_llm):
    """As in production (no test transaction around it): BEGIN and COMMIT count, savepoints do not occur,
    and each model call's quota reservation is one round trip."""
    source = _warm_thread(scene, fake_llm)
    message = scene.inbound("thanks, how much is a session?")
    fake_llm.queue(Reply.structured(draft_reply("A session is $80.", cited_source_ids=[source])),
                   Reply.structured(review()), Reply.structured(screen()))
    with CaptureQueriesContext(connection) as queries:
        draft = reply_pipeline_run(message_id=message.pk)  # sends inline once the decision commits
    assert draft.decision == Decision.SENT
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("pg_advisory_xact_lock" in s for s in sql) == 3 and not any("advisory_unlock" in s for s in sql)
    assert len(queries) <= AUTOCOMMIT_BUDGET, "\n".join(s[:120] for s in sql)
