"""Drafts a person asked the assistant for: a suggested reply (or follow-up) becomes the thread's
pending draft, which a setter then approves, edits or discards in the normal flow. Nothing here sends.

The text gets the reply pipeline's outbound checks when it becomes a draft (links, phone numbers,
prices the knowledge base does not state, the prompt, hidden characters, blacklisted topics): a hit
keeps it as a draft `blocked` by that rule, shown to the setter with the reason, exactly as a pipeline
draft would be. Approval then runs the send-time checks every setter send gets (opt-out, the
messaging window, the channel), in `services.draft_approve`.

Reached through the `changes` kind `conversation.draft` (assistant suggestions); the undo,
`reply_draft_withdraw`, discards the draft and gives the drafts it superseded back their place.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_event_record
from conversations.models import Decision, DraftDisposition, DraftKind, ReplyDraft, Thread
from conversations.pipeline import outbound
from conversations.pipeline import prompt as P
from conversations.selectors import PENDING_DECISIONS, prompt_text_current, sidekick_settings_for, thread_history
from conversations.services import DraftNotActionable
from knowledge.selectors import knowledge_mentions, knowledge_search

REASON = "assistant_suggestion"
TEXT_MAX = 4000
HISTORY = 20
SOURCES = 4


def _hits(*, thread: Thread, text: str) -> list:
    """The pipeline's outbound checks on `text`, grounded on the conversation, the allowlist and the
    knowledge base (lexical retrieval only: no model or embedding call in the caller's request)."""
    workspace = thread.workspace
    cfg = sidekick_settings_for(workspace=workspace)
    prompt, _ = prompt_text_current(workspace=workspace)
    chunks = knowledge_search(workspace=workspace, query=text, limit=SOURCES, mode="lexical")
    grounding = outbound.Grounding(
        sources_text="\n".join(c.text for c in chunks),
        conversation_text="\n".join(m.text for m in thread_history(thread=thread, limit=HISTORY)),
        allowed_domains=list(cfg.allowed_domains or []),
        knowledge_mentions=lambda needle, digits: knowledge_mentions(workspace=workspace, needle=needle,
                                                                     digits_only=digits),
    )
    limit = 1000 if thread.channel.platform == "instagram" else 2000
    return outbound.check_draft(text, system_prompt=P.protected_text(P.business_prompt(prompt, business=workspace.name)),
                                blacklist=cfg.blacklist, max_chars=limit, grounding=grounding)


@transaction.atomic
def reply_draft_suggest(*, thread: Thread, text: str, kind: str = DraftKind.REPLY, actor, note: str = "") -> ReplyDraft:
    """Make `text` the thread's pending draft (never sent here). Drafts pending before it are marked
    superseded, and remembered on the new draft so that withdrawing it brings them back.
    Raises ValidationError for an empty or oversized text or an unknown kind."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("The draft is empty.")
    if len(text) > TEXT_MAX:
        raise ValidationError(f"Keep a draft under {TEXT_MAX:,} characters.")
    if kind not in DraftKind.values:
        raise ValidationError(f"Unknown draft kind {kind!r}.")
    thread = Thread.objects.select_for_update().select_related("workspace", "channel").get(pk=thread.pk)
    hits = _hits(thread=thread, text=text)
    previous = list(ReplyDraft.objects.filter(workspace_id=thread.workspace_id, thread=thread, disposition="",
                                              decision__in=PENDING_DECISIONS).values("pk", "decision"))
    ReplyDraft.objects.filter(pk__in=[p["pk"] for p in previous]).update(decision=Decision.SUPERSEDED)
    now = timezone.now()
    draft = ReplyDraft.objects.create(
        workspace_id=thread.workspace_id, thread=thread, kind=kind, text=text, final_text=text,
        decision=Decision.BLOCKED if hits else Decision.DRAFT_SAVED,
        reason_code=hits[0].rule if hits else REASON, decided_at=now,
        reasons={"rules": [h.as_dict() for h in hits], "notes": [note[:300]] if note else [],
                 "assistant": {"requested_by": actor.pk if actor else None,
                               "superseded": [{"id": p["pk"], "decision": p["decision"]} for p in previous]}})
    audit_event_record(verb="conversations.draft_suggested", workspace=thread.workspace, actor=actor, target=draft,
                       data={"kind": kind, "blocked_by": [h.rule for h in hits], "superseded": [p["pk"] for p in previous]})
    return draft


@transaction.atomic
def reply_draft_withdraw(*, draft: ReplyDraft, actor) -> ReplyDraft:
    """Undo of `reply_draft_suggest`: discard the draft while it is still waiting, and make the drafts it
    superseded pending again (those still superseded). Raises DraftNotActionable once it was sent,
    discarded or superseded."""
    claimed = ReplyDraft.objects.filter(pk=draft.pk, disposition="", decision__in=PENDING_DECISIONS).update(
        disposition=DraftDisposition.DISCARDED, disposition_by=actor, disposition_at=timezone.now())
    if not claimed:
        raise DraftNotActionable("This draft was already handled, so it cannot be withdrawn.")
    restored = []
    for previous in (draft.reasons or {}).get("assistant", {}).get("superseded", []):
        if previous.get("decision") in PENDING_DECISIONS and ReplyDraft.objects.filter(
                pk=previous["id"], thread_id=draft.thread_id, disposition="", decision=Decision.SUPERSEDED,
        ).update(decision=previous["decision"]):
            restored.append(previous["id"])
    draft.refresh_from_db()
    audit_event_record(verb="conversations.draft_withdrawn", workspace=draft.workspace, actor=actor, target=draft,
                       data={"restored": restored})
    return draft
