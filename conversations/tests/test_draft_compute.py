"""`reply_draft_compute` drafts as the pipeline does and writes nothing: what the eval loop needs to
re-draft a past conversation with a candidate prompt or knowledge."""

from __future__ import annotations

import pytest
from django.db import connection

from contacts.models import Contact, LeadMemory
from conversations.models import Decision
from conversations.pipeline.draft import reply_draft_compute
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from knowledge.selectors import knowledge_search
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

LEDGER = "integrations_llmusage"  # the gateway's usage ledger: every model call is counted for quotas


def table_counts() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - table names from the catalogue
            counts[table] = cursor.fetchone()[0]
    return counts


def test_compute_writes_no_row_and_sends_nothing(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    faq = faq_create(workspace=scene.workspace, question="Do you have parking?",
                     answer="Yes, free parking behind the studio.", actor=None)
    message = scene.inbound("is there parking?")
    fake_llm.queue(Reply.structured(draft_reply("Yes, free parking right behind the studio.",
                                                cited_source_ids=[f"K{faq.chunks.get().pk}"],
                                                memory_writes=[{"kind": "fact", "text": "Drives to class"}])),
                   Reply.structured(review()), Reply.structured(screen()))
    before = table_counts()
    result = reply_draft_compute(message=message)
    after = table_counts()
    assert result.decision == Decision.SENT and result.would_send, result.draft.reasons
    assert result.draft.pk is None and result.draft.final_text.startswith("Yes, free parking")
    assert result.draft.confidence >= 0.8 and result.draft.confidence_parts["evidence_kind"] == "source"
    assert result.run.memory_writes == [{"kind": "fact", "text": "Drives to class"}]  # returned, not written
    changed = {table: (before[table], after[table]) for table in before if before[table] != after[table]}
    assert changed == {LEDGER: (before[LEDGER], before[LEDGER] + 3)}, changed  # draft, review, screen calls


def test_compute_reports_an_opt_out_without_writing_it(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    message = scene.inbound("please stop messaging me")
    before = table_counts()
    result = reply_draft_compute(message=message)
    assert (result.decision, result.reason) == (Decision.BLOCKED, "opt_out")
    assert result.run.opt_out_at is not None
    assert table_counts() == before and not Contact.objects.get(pk=scene.contact.pk).opted_out


def test_compute_takes_a_candidate_prompt_and_candidate_knowledge(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    faq_create(workspace=scene.workspace, question="Do you sell gift cards?", answer="Yes, in any amount.", actor=None)
    other = faq_create(workspace=scene.workspace, question="Is there a sauna?", answer="Yes, a cedar sauna.",
                       actor=None)
    message = scene.inbound("do you sell gift cards?")
    candidate_sources = knowledge_search(workspace=scene.workspace, query="sauna", limit=3)
    assert [c.faq_id for c in candidate_sources] == [other.pk]
    fake_llm.queue(Reply.structured(draft_reply("Let me check with the team.", confidence=0.3)),
                   Reply.structured(review()))
    result = reply_draft_compute(message=message, prompt_text="You are Kim, a CANDIDATE prompt for {business}.",
                                 sources=candidate_sources)
    system = fake_llm.requests[0].system
    assert "You are Kim, a CANDIDATE prompt for" in system and "cedar sauna" in system and "any amount" not in system
    assert result.draft.prompt_revision is None and result.decision == Decision.DRAFT_SAVED
    assert not LeadMemory.objects.exists()


def test_extra_sources_come_first_and_replace_the_stored_entry_they_edit(scene, fake_llm):
    from dataclasses import replace

    fake_llm.provider(scene.workspace)
    stored = faq_create(workspace=scene.workspace, question="Do you sell gift cards?", answer="No, sorry.", actor=None)
    message = scene.inbound("do you sell gift cards?")
    (retrieved,) = knowledge_search(workspace=scene.workspace, query="gift cards", limit=3)
    edited = replace(retrieved, chunk_id=0, text="Q: Do you sell gift cards?\nA: Yes, from 20 EUR. EDITED")
    fake_llm.queue(Reply.structured(draft_reply("Yes, from 20 EUR.")), Reply.structured(review()))
    reply_draft_compute(message=message, extra_sources=[edited])
    system = fake_llm.requests[0].system
    assert "EDITED" in system and "No, sorry." not in system  # the edit replaced the stored entry
    assert retrieved.faq_id == stored.pk


def test_at_drafts_an_old_message_as_of_its_own_time(scene, fake_llm):
    from datetime import timedelta

    fake_llm.provider(scene.workspace)
    message = scene.inbound("can I book for Friday?", ago=timedelta(days=40))
    assert reply_draft_compute(message=message).reason == "window"  # now: the 24-hour window is long closed
    LeadMemory.objects.create(workspace=scene.workspace, contact=scene.contact, kind="fact",
                              text="LATER-FACT said a month after")  # stored now: after the message
    fake_llm.queue(Reply.structured(draft_reply()), Reply.structured(review()), Reply.structured(screen()))
    result = reply_draft_compute(message=message, at=message.sent_at)
    assert result.reason != "window" and result.draft.final_text
    assert "LATER-FACT" not in fake_llm.requests[0].system
