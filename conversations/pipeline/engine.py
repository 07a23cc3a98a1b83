"""The reply pipeline: one inbound message in, one recorded decision out.

    decide → draft → memory → overseer gate (hard rules, then reviewer) → confidence → finalize
    → act (send / escalate / save draft) → record

`reply_pipeline_run(message_id=...)` is what the Celery task calls, after the debounce; a reply it
decides to send goes out from the same call, right after the decision commits. It is safe to
run twice: the ReplyDraft row is unique per inbound message and is the claim, so a redelivered or
duplicated task finds it and returns. A burst is answered once: every message of it gets a task,
all but the newest find a newer inbound message and record `superseded` without calling a model.
Because the burst is identified by its newest message, the draft's uniqueness is also the per-thread
claim: two workers can never draft the same burst. If a message arrives while a draft is in flight,
the act step (under a row lock on the thread) sees it and records `superseded` instead of sending;
the newer message's own run answers everything.

No LLM call is made inside a database transaction. Outcomes are mapped to decisions like this:

    crisis, threat (inbound screen)          escalated    urgent escalation, no model call
    legal matter (inbound screen)            escalated    escalation, no model call
    opt-out (contact opted out), spam        blocked      no escalation (with a crisis/threat: urgent)
    blacklist, window closed                 blocked      escalation
    prompt injection (inbound screen)        escalated    escalation, no model call
    human asked for (rule or model)          escalated    escalation, no draft call for the rule
    outbound check (link, phone, offer, leak,
      markup, hidden or mixed letters)       blocked      escalation
    reviewer veto                            escalated    escalation
    screening model flags the message        escalated    escalation (urgent for crisis/threat)
    LLM error, quota, unusable output        escalated    escalation
    no provider: FAQ near-exact match        faq_answered sent without an LLM
    no provider, no FAQ match                escalated    escalation
    business hours policy                    draft_saved  (a setter answers during/after hours)
    auto-send off                            draft_saved
    confidence below the threshold           draft_saved  escalation
    otherwise                                sent         (at or above the threshold, gate approved)

Confidence is earned by evidence (confidence.py): a relevant retrieved source the reply draws on, or
a purely conversational message; the model's self-rating and the reviewer can only lower it. The
screening model (`_screen_call`) runs last, only for a reply about to be sent: its verdict can stop
a send, never allow one. Every escalation pauses the AI on the thread until a setter resumes it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact, LeadMemory
from contacts.services import contact_opt_out
from conversations import action_log, escalations
from conversations.models import (
    ActionKind,
    Decision,
    Direction,
    Message,
    ReplyDraft,
    SenderKind,
    SidekickSettings,
    Thread,
)
from conversations.pipeline import confidence as C
from conversations.pipeline import outbound, record, rules
from conversations.pipeline import prompt as P
from conversations.pipeline.confidence import combine, should_auto_send
from conversations.pipeline.finalize import plain_text
from conversations.pipeline.screen import URGENT
from conversations.selectors import business_hours_of, prompt_text_current, thread_history
from conversations.sending import SendRefused, message_send, outbound_message_create
from conversations.settings_rows import sidekick_settings_ensure
from integrations.llm.errors import LLMError, LLMOutputError, NoProviderConfigured, QuotaExceeded
from integrations.llm.gateway import llm_complete
from integrations.llm.models import LLMProvider
from integrations.llm.selectors import llm_provider_for
from integrations.meta.limits import fit_text
from knowledge.selectors import faq_match, knowledge_mentions, knowledge_search
from sidekick_project.db import first_unordered, savepoint_if_in_transaction

logger = logging.getLogger(__name__)

SOURCES_LIMIT = 5
MEMORY_LIMIT = 20
_SOURCE_ID = re.compile(r"K?(\d+)")


class Escalate(Exception):
    """A step cannot go on: stop here with this decision and reason."""

    def __init__(self, reason: str, text: str = "", *, decision: str = Decision.ESCALATED, urgent: bool = False):
        super().__init__(reason)
        self.reason, self.text, self.decision, self.urgent = reason, text, decision, urgent


@dataclass
class Run:
    """What one pipeline run knows; the draft row is written from it at the end."""

    message: Message | None
    thread: Thread
    contact: Contact
    cfg: object
    prompt: str = ""
    burst: list[Message] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    sources: list = field(default_factory=list)
    hits: list[rules.RuleHit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    overseer: dict = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    provider: LLMProvider | None = None  # resolved by the first model call, reused by the next ones
    last_outbound: str = ""  # Sidekick's or a setter's last message before the burst
    raw_reply: str = ""  # the model's reply before the finalizer (markup and hidden characters are judged on it)
    urgent: bool = False

    def note_usage(self, result) -> None:
        if result is not None:
            self.input_tokens += result.input_tokens
            self.output_tokens += result.output_tokens


# --- entry point -------------------------------------------------------------------------------------

def reply_pipeline_run(*, message_id: int) -> ReplyDraft | None:
    """Answer one inbound message (see the module docstring). Returns the draft, or None when skipped."""
    # One query for the message, its thread, contact, channel, workspace and the workspace's settings;
    # not the thread's search document (every word of the conversation, unused here).
    message = first_unordered(
        Message.objects.select_related("thread__contact", "thread__channel", "workspace__sidekick_settings")
        .defer("thread__search_vector").filter(pk=message_id, direction=Direction.IN, is_deleted=False))
    if message is None:
        return None
    thread, contact = message.thread, message.thread.contact
    thread.workspace = message.workspace  # the same row: spare a query
    try:
        cfg = message.workspace.sidekick_settings
    except SidekickSettings.DoesNotExist:
        cfg = sidekick_settings_ensure(workspace=message.workspace)  # first reply: created with the defaults
    skip = _skip_reason(thread, contact, cfg)
    if skip:
        logger.info("reply pipeline: message %s skipped (%s)", message_id, skip)
        return None
    try:
        with savepoint_if_in_transaction():
            draft = ReplyDraft.objects.create(workspace_id=thread.workspace_id, thread=thread, inbound_message=message)
    except IntegrityError:
        return None  # another worker claimed this message
    run = Run(message=message, thread=thread, contact=contact, cfg=cfg)
    if _newer_inbound(message):
        return _finish(run, draft, Decision.SUPERSEDED, "superseded")
    try:
        return _pipeline(run, draft)
    except Escalate as stop:
        run.urgent = run.urgent or stop.urgent
        return _finish(run, draft, stop.decision, stop.reason, stop.text)
    except Exception:
        # A bug must not leave the contact without an answer and nobody aware of it.
        logger.exception("reply pipeline failed on message %s", message_id)
        return _finish(run, draft, Decision.ESCALATED, "pipeline_error", "Sidekick hit an internal error.")


def _skip_reason(thread: Thread, contact: Contact, cfg) -> str:
    if not cfg.enabled:
        return "automation_off"
    if thread.ai_paused:
        return "ai_paused"
    if contact.opted_out:
        return "opted_out"
    if not thread.app_has_control:
        return "other_app_in_control"
    if not thread.channel.can_send:
        # Reconnect needed (or disabled): nothing could be sent, so no model call is paid for; the
        # channel's admins were alerted when it was marked, and the thread waits for a human.
        return f"channel_{thread.channel.status}"
    return ""


def _newer_inbound(message: Message) -> bool:
    return Message.objects.filter(
        Q(sent_at__gt=message.sent_at) | Q(sent_at=message.sent_at, pk__gt=message.pk),
        thread_id=message.thread_id, direction=Direction.IN, is_deleted=False,
    ).exists()


def _pipeline(run: Run, draft: ReplyDraft) -> ReplyDraft:
    cfg, now = run.cfg, timezone.now()
    history = thread_history(thread=run.thread, until=run.message)
    run.burst = _burst(history) or [run.message]
    run.last_outbound = next((m.text for m in reversed(history) if m.direction != Direction.IN), "")
    run.history = P.conversation([("user" if m.direction == Direction.IN else "assistant", m.text) for m in history])

    # The inbound screen and the hard rules, on everything the contact wrote (captions included) and on
    # the moment: no model call when they already decide.
    for text in _screened_texts(run.burst):
        run.hits += [h for h in rules.check_inbound(text, language=cfg.language, blacklist=cfg.blacklist)
                     if h.rule not in {x.rule for x in run.hits}]
    run.hits += rules.check_context(now=now, last_inbound_at=run.thread.last_inbound_at, hours=business_hours_of(cfg),
                                    tz=run.thread.workspace.timezone, opted_out=False)
    codes = {h.rule for h in run.hits if h.blocking}
    if "opt_out" in codes:
        contact_opt_out(contact_id=run.contact.pk, at=now)
    for code in ("crisis", "threat"):
        if code in codes:
            raise Escalate(code, rules.SCREEN_RULES[code], urgent=True)
    if "opt_out" in codes:
        raise Escalate("opt_out", decision=Decision.BLOCKED)
    if "legal" in codes:
        raise Escalate("legal", rules.SCREEN_RULES["legal"])
    for code in ("spam", "blacklist", "window"):
        if code in codes:
            raise Escalate(code, decision=Decision.BLOCKED)
    if "human_requested" in codes:
        draft.human_requested = True
        raise Escalate("human_requested")
    if "prompt_injection" in codes:
        raise Escalate("prompt_injection", rules.SCREEN_RULES["injection"])
    if not run.history:
        raise Escalate("empty", "Nothing to answer (the message has no text).", decision=Decision.BLOCKED)

    run.prompt, draft.prompt_revision = prompt_text_current(workspace=run.thread.workspace)
    try:
        parsed = _draft(run, draft)
    except NoProviderConfigured:
        return _faq_mode(run, draft)

    # Memory: what the contact stated, kept whatever happens to the reply.
    if parsed.get("memory_writes"):
        record.memory_writes_apply(contact=run.contact, writes=parsed["memory_writes"], source_message=run.message)
    if draft.human_requested:
        raise Escalate("human_requested", "The drafting model found that the contact asks for a human.")

    run.raw_reply = parsed["reply"]
    text = overseer_gate(run, draft, plain_text(parsed["reply"]))
    kind, detail = evidence_for(run, parsed, text)
    confidence = combine(self_rating=parsed["confidence"], evidence_kind=kind, detail=detail,
                         reviewer_verdict=run.overseer.get("verdict"), penalties=[h.penalty for h in run.hits])
    draft.confidence, draft.confidence_parts = confidence.value, confidence.parts
    draft.final_text = fit_text(text, run.thread.channel.platform)

    if "business_hours" in codes:
        return _finish(run, draft, Decision.DRAFT_SAVED, "business_hours")
    if not cfg.auto_send:
        return _finish(run, draft, Decision.DRAFT_SAVED, "auto_send_off")
    if not should_auto_send(confidence=confidence.value, threshold=cfg.threshold, blocking_hits=len(codes)):
        threshold = C.effective_threshold(cfg.threshold)
        why = (f"Confidence {confidence.value:.2f} is below the threshold {threshold:.2f}." if kind != "none" else
               "No retrieved source backs the reply (and the message is not small talk), so it is not sent "
               "automatically, whatever the model's own confidence.")
        return _finish(run, draft, Decision.DRAFT_SAVED, "low_confidence", why)
    _screen_call(run)
    return _finish(run, draft, Decision.SENT, "")


def _screened_texts(burst: list[Message]) -> list[str]:
    """What the contact wrote: each message's text and its attachments' captions and titles."""
    texts = []
    for message in burst:
        texts.append(message.text or "")
        for attachment in message.attachments or []:
            if not isinstance(attachment, dict):
                continue
            payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
            for value in (attachment.get("title"), payload.get("title"), payload.get("caption"), payload.get("text"),
                          payload.get("name")):
                if isinstance(value, str) and value.strip():
                    texts.append(value)
    return [t for t in texts if t.strip()]


def _burst(history: list[Message]) -> list[Message]:
    """The contact's messages since Sidekick's or a setter's last message (the newest at least)."""
    burst = []
    for message in reversed(history):
        if message.direction != Direction.IN:
            break
        burst.append(message)
    return list(reversed(burst))[-10:]


# --- draft -------------------------------------------------------------------------------------------

def structured_call(run: Run, *, purpose: str, system: str, messages: list[dict], schema: dict, schema_name: str,
                    provider: LLMProvider | None = None):
    """One structured call with one repair attempt on unusable output. Raises Escalate on failure.

    `provider` overrides the run's (the workspace default) for this call only."""
    workspace = run.thread.workspace
    if provider is None and run.provider is None:
        # System work (no user): the workspace default, the provider llm_complete would resolve itself.
        run.provider = llm_provider_for(workspace=workspace)
        if run.provider is None:
            raise NoProviderConfigured(workspace)
    provider = provider or run.provider
    try:
        try:
            result = llm_complete(workspace=workspace, purpose=purpose, system=system, messages=messages,
                                  schema=schema, schema_name=schema_name, provider=provider)
        except LLMOutputError as exc:
            run.note_usage(exc.result)
            run.notes.append(f"{purpose}: unusable output ({exc.message[:120]}); asked for a repair")
            repair = [*messages, {"role": "assistant", "content": (exc.raw or "(empty)")[:4000]},
                      {"role": "user", "content": f"That answer was unusable: {exc.message[:300]}. Answer again "
                                                  f"with every required field, using the {schema_name} format."}]
            result = llm_complete(workspace=workspace, purpose=purpose, system=system, messages=repair,
                                  schema=schema, schema_name=schema_name, provider=provider)
    except NoProviderConfigured:
        raise
    except QuotaExceeded as exc:
        raise Escalate("quota_exceeded", str(exc)) from exc
    except LLMOutputError as exc:
        run.note_usage(exc.result)
        raise Escalate("invalid_output", f"{purpose}: {exc.message[:300]}") from exc
    except LLMError as exc:
        raise Escalate("llm_error", f"{purpose}: {exc.kind}: {exc.message[:300]}") from exc
    run.note_usage(result)
    return result


def _draft(run: Run, draft: ReplyDraft) -> dict:
    workspace = run.thread.workspace
    query = " ".join(m.text for m in run.burst)[-1000:]
    run.sources = knowledge_search(workspace=workspace, query=query, limit=SOURCES_LIMIT) if query.strip() else []
    memory = list(LeadMemory.objects.filter(contact=run.contact, expires_at__gt=timezone.now())
                  .order_by("-created_at").values("kind", "text")[:MEMORY_LIMIT])
    cfg = run.cfg
    hours = ("always open" if cfg.business_hours_policy == "always" else
             f"days {cfg.business_days} {cfg.opens_at:%H:%M}-{cfg.closes_at:%H:%M}")
    system = P.system_prompt(prompt=run.prompt, business=workspace.name, tz=workspace.timezone, now=timezone.now(),
                             hours_text=hours, sources=[_source(c) for c in run.sources], memory=memory)
    result = structured_call(run, purpose="reply_draft", system=system, messages=run.history, schema=P.DRAFT_SCHEMA,
                         schema_name="respond")
    parsed = result.parsed
    draft.text = parsed["reply"]
    draft.model, draft.provider_kind = result.model, result.provider_kind
    draft.intent, draft.stage, draft.sentiment = parsed["intent"], parsed["stage"], parsed["sentiment"]
    draft.lead_score = max(0, min(100, int(parsed["lead_score"])))
    draft.human_requested = bool(parsed["human_requested"])
    cited = _cited_ids(parsed.get("cited_source_ids") or [])
    draft.cited_chunks = [c.citation() for c in run.sources if c.chunk_id in cited]
    return parsed


def _source(chunk) -> dict:
    title = chunk.document_title + (f", {chunk.section}" if chunk.section else "")
    return {"id": f"K{chunk.chunk_id}", "title": title, "text": chunk.text[:1500]}


def _cited_ids(raw: list) -> set[int]:
    found = set()
    for value in raw:
        match = _SOURCE_ID.search(str(value))
        if match:
            found.add(int(match.group(1)))
    return found


def evidence_for(run: Run, parsed: dict, text: str) -> tuple[str, dict]:
    """Which evidence backs the final text (see confidence.py): decided from retrieval and the words."""
    latest = " ".join(m.text for m in run.burst)
    return C.evidence(reply=text, cited=_cited_ids(parsed.get("cited_source_ids") or []), sources=run.sources,
                      conversational=C.conversational_intent(latest, last_outbound=run.last_outbound))


# --- overseer gate -------------------------------------------------------------------------------------

def _protected(run: Run) -> str:
    return P.protected_text(P.business_prompt(run.prompt, business=run.thread.workspace.name))


def grounding_for(run: Run, *, sources_text: str | None = None) -> outbound.Grounding:
    """What a reply of this run may draw on: its retrieved sources, the conversation, the allowlist, the KB."""
    workspace = run.thread.workspace
    return outbound.Grounding(
        sources_text="\n".join(c.text for c in run.sources) if sources_text is None else sources_text,
        conversation_text="\n".join(m["content"] for m in run.history),
        allowed_domains=list(run.cfg.allowed_domains or []),
        knowledge_mentions=lambda needle, digits: knowledge_mentions(workspace=workspace, needle=needle,
                                                                     digits_only=digits),
    )


def _draft_hits(run: Run, text: str, raw: str) -> list[rules.RuleHit]:
    limit = 1000 if run.thread.channel.platform == "instagram" else 2000
    return outbound.check_draft(text, raw_text=raw, system_prompt=_protected(run), blacklist=run.cfg.blacklist,
                                max_chars=limit, grounding=grounding_for(run))


def overseer_gate(run: Run, draft: ReplyDraft, text: str) -> str:
    """Outbound checks on the draft, then the reviewer; again the checks on a rewrite. Returns the text."""
    for hit in _draft_hits(run, text, run.raw_reply):
        run.hits.append(hit)
        raise Escalate(hit.rule, hit.reason, decision=Decision.BLOCKED)
    result = structured_call(run, purpose="overseer_review", system=P.REVIEW_SYSTEM,
                         messages=P.review_messages(history=run.history, draft=text,
                                                    sources=[_source(c) for c in run.sources]),
                         schema=P.REVIEW_SCHEMA, schema_name="review")
    verdict = result.parsed["verdict"]
    run.overseer = {"verdict": verdict, "reasons": [str(r)[:300] for r in result.parsed.get("reasons") or []][:10]}
    if verdict == "veto":
        raise Escalate("reviewer_veto", "; ".join(run.overseer["reasons"]) or "The reviewer vetoed the draft.")
    if verdict == "rewrite":
        raw = result.parsed.get("rewritten_reply") or ""
        rewritten = plain_text(raw)
        if not rewritten:
            raise Escalate("reviewer_veto", "The reviewer asked for a rewrite but gave none.")
        run.overseer["original"] = text
        text = rewritten
        for hit in _draft_hits(run, text, raw):
            run.hits.append(hit)
            raise Escalate(hit.rule, hit.reason, decision=Decision.BLOCKED)
    return text


def _screen_call(run: Run) -> None:
    """The screening model: the contact's words alone (no prompt, no knowledge), classified into the
    screen's categories, on the workspace's screening provider if one is set. It can stop a send (any
    category flagged, or no usable answer), never allow one."""
    latest = "\n".join(t for t in _screened_texts(run.burst))[-4000:]
    provider = run.cfg.screen_provider if run.cfg.screen_provider_id else None
    result = structured_call(run, purpose="inbound_screen", system=P.SCREEN_SYSTEM,
                             messages=P.screen_messages(latest), schema=P.SCREEN_SCHEMA, schema_name="screen",
                             provider=provider)
    flags = sorted({str(f) for f in result.parsed.get("flags") or []} - {"none"})
    run.overseer["screen"] = flags
    if flags:
        raise Escalate("model_screen", f"The screening model flagged the message: {', '.join(flags)}.",
                       urgent=bool(URGENT & set(flags)))


# --- no provider: FAQ-only mode -----------------------------------------------------------------------

def _faq_mode(run: Run, draft: ReplyDraft) -> ReplyDraft:
    """No LLM configured: answer a (near-)exact FAQ question with its stored answer, escalate the rest."""
    latest = run.burst[-1].text if run.burst else run.message.text
    match = faq_match(workspace=run.thread.workspace, text=latest)
    if match is None:
        raise Escalate("no_provider")
    faq, similarity = match
    text = plain_text(faq.answer)
    # The answer is the workspace's own text: it grounds itself (its links, prices); the other checks hold.
    for hit in outbound.check_draft(text, raw_text=faq.answer, blacklist=run.cfg.blacklist,
                                    grounding=grounding_for(run, sources_text=faq.answer)):
        raise Escalate(hit.rule, hit.reason, decision=Decision.BLOCKED)
    draft.text = faq.answer
    draft.final_text = fit_text(text, run.thread.channel.platform)
    draft.confidence = similarity
    draft.confidence_parts = {"faq_similarity": similarity, "value": similarity}
    draft.cited_chunks = [{"source": "faq", "faq_id": faq.pk, "question": faq.question, "similarity": similarity}]
    draft.intent = "question"
    return _finish(run, draft, Decision.FAQ_ANSWERED, "faq_match")


# --- act and record -----------------------------------------------------------------------------------

def _finish(run: Run, draft: ReplyDraft, decision: str, reason: str, reason_text: str = "") -> ReplyDraft:
    """Act on the decision under a lock on the thread, then record everything on the draft."""
    thread = run.thread
    with transaction.atomic():
        # The thread and contact rows are locked; the channel is read with them (not locked: every thread
        # of the channel would wait on it) for the send below.
        locked = (Thread.objects.select_for_update(of=("self", "contact")).select_related("contact", "channel")
                  .defer("search_vector").get(pk=thread.pk))
        locked.workspace = thread.workspace  # the same row: spare a query
        sending = decision in (Decision.SENT, Decision.FAQ_ANSWERED)
        if sending or decision == Decision.DRAFT_SAVED:
            # The world may have moved while the model was thinking.
            if _newer_inbound(run.message):
                decision, reason, reason_text = Decision.SUPERSEDED, "superseded", ""
            elif sending and (locked.ai_paused or locked.contact.opted_out or not locked.app_has_control):
                decision, reason = Decision.DRAFT_SAVED, "ai_paused"
                reason_text = "The thread was taken over (or the contact opted out) while drafting."
        draft.decision, draft.reason_code, draft.decided_at = decision, reason, timezone.now()
        draft.reasons = {"rules": [h.as_dict() for h in run.hits], "overseer": run.overseer, "notes": run.notes,
                         "text": reason_text or escalations.REASONS.get(reason, "")}
        draft.input_tokens, draft.output_tokens = run.input_tokens, run.output_tokens
        if decision in (Decision.SENT, Decision.FAQ_ANSWERED) and not _send(run, draft, locked):
            decision, reason = Decision.BLOCKED, "empty"
            draft.decision, draft.reason_code = decision, reason
        elif decision == Decision.DRAFT_SAVED:
            action_log.action_log_add(thread=thread, action=ActionKind.DRAFT_SAVED, draft=draft, text=draft.final_text,
                                  confidence=draft.confidence, result=reason)
        if decision == Decision.ESCALATED or (decision == Decision.BLOCKED and record.BLOCKING_ESCALATES.get(reason))\
                or (decision == Decision.DRAFT_SAVED and reason == "low_confidence"):
            escalations.escalation_open(thread=thread, reason_code=reason, reason_text=reason_text, draft=draft,
                                        message_id=run.message.pk, urgent=run.urgent)
            if decision != Decision.DRAFT_SAVED:
                action_log.action_log_add(thread=thread, action=ActionKind.ESCALATED, draft=draft,
                                      text=draft.final_text or draft.text, confidence=draft.confidence, result=reason)
        draft.save()
        if decision != Decision.SUPERSEDED:
            record.contact_state_apply(draft=draft, contact=locked.contact)
    logger.info("reply pipeline: message %s -> %s %s confidence=%s", run.message.pk, decision, reason,
                draft.confidence)
    return draft


def _send(run: Run, draft: ReplyDraft, locked: Thread) -> bool:
    """Write the outbound row in the decision's transaction; send it in this task once that commits.

    No second Celery task: the row is durable (`pending`) before any HTTP call, `message_send` claims
    it (`pending → sending`) so it goes out at most once, and if this worker dies between the commit
    and the send, `outbound_messages_sweep` finds the row still pending and enqueues it.
    """
    try:
        message = outbound_message_create(thread=run.thread, text=draft.final_text, sender_kind=SenderKind.AI,
                                          idempotency_key=f"reply:{run.message.pk}", enqueue=False)
    except SendRefused as exc:
        draft.reasons["text"] = str(exc)
        return False
    draft.outbound_message = message
    action_log.action_log_add(thread=run.thread, action=ActionKind.SENT_REPLY, draft=draft, message=message,
                          text=message.text, confidence=draft.confidence, result="queued")
    # The send checks the thread, contact and channel as read under the lock, not the run's copies from
    # before the model calls.
    message.thread, message.channel = locked, locked.channel
    transaction.on_commit(lambda: _send_committed(message))
    return True


def _send_committed(message: Message) -> None:
    try:
        message_send(message_id=message.pk, loaded=message)
    except Exception:  # noqa: BLE001 - the decision is committed; the row is pending or sending, never lost
        logger.exception("reply send of message %s failed; the send sweeper takes it from here", message.pk)
