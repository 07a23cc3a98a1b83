"""Record the pipeline's outcome: which hard-rule hits escalate, and the contact writes a draft implies.

Escalations and the action log have their own services (`conversations.escalations`,
`conversations.action_log`); contact state and lead memory are written by `contacts.services`, the one
writer of those tables. This module turns a draft into their arguments.
"""

from __future__ import annotations

from contacts.models import LeadMemory
from contacts.services import contact_assessment_apply, lead_memory_record
from conversations.models import Message, ReplyDraft

# Hard-rule hits that end the run without a reply, and whether a human should still look.
BLOCKING_ESCALATES = {"opt_out": False, "spam": False, "blacklist": True, "prompt_leak": True, "window": True,
                      "empty": True, "length": True, "markdown_link": True, "unverified_link": True,
                      "unverified_phone": True, "ungrounded_offer": True, "hidden_characters": True,
                      "mixed_script": True}


def contact_state_apply(*, draft: ReplyDraft, contact) -> bool:
    """Apply the draft's assessment (stage, sentiment, score) and keep the history. True if changed."""
    if draft.lead_score is None and not draft.stage and not draft.sentiment:
        return False
    return contact_assessment_apply(contact=contact, stage=draft.stage, sentiment=draft.sentiment,
                                    lead_score=draft.lead_score, source_draft_id=draft.pk)


def memory_writes_apply(*, contact, writes: list[dict], source_message: Message | None) -> list[LeadMemory]:
    """Store what the contact stated (the drafting model's `memory_writes`); exact repeats are skipped."""
    return lead_memory_record(contact=contact, writes=writes,
                              source_message_id=source_message.pk if source_message is not None else None)
