"""Drafting, side-effect free: one inbound message in, a draft with its decision and evidence out.

    screen and hard rules → draft (model, retrieval, memory) → outbound checks and reviewer →
    evidence-backed confidence → screening model (only before a send)

`reply_draft_compute(message=..., prompt_text=..., sources=...)` writes no row and sends nothing:
it reads the thread, asks the model(s) through the gateway (which keeps its own usage ledger for
quotas) and returns the unsaved draft, the decision and what the act step would write (opt-out,
lead memory). The pipeline (`engine.reply_pipeline_run`) claims the message, computes, then acts and
records; the eval loop calls it on past conversations with a candidate prompt or knowledge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from contacts.models import Contact, LeadMemory
from conversations.models import Decision, Direction, Message, ReplyDraft, SidekickSettings, Thread
from conversations.pipeline import confidence as C
from conversations.pipeline import outbound, rules
from conversations.pipeline import prompt as P
from conversations.pipeline.calls import Escalate, structured_call
from conversations.pipeline.confidence import combine, should_auto_send
from conversations.pipeline.finalize import plain_text
from conversations.pipeline.screen import URGENT
from conversations.selectors import business_hours_of, prompt_text_current, sidekick_settings_for, thread_history
from integrations.llm.errors import NoProviderConfigured
from integrations.llm.models import LLMProvider
from integrations.meta.limits import fit_text
from knowledge.selectors import faq_match, knowledge_mentions, knowledge_search

SOURCES_LIMIT = 5
SCREEN_MAX_TOKENS = 100  # the screening answer is a short list of flags
MEMORY_LIMIT = 20
_SOURCE_ID = re.compile(r"K?(\d+)")


@dataclass
class Run:
    """What one pipeline run knows; the draft row is written from it by the act step."""

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
    # The person who asked for this run (a setter's follow-up), so usage and quotas count it as theirs;
    # None for Sidekick's own work (replies to inbound messages).
    user: object = None
    last_outbound: str = ""  # Sidekick's or a setter's last message before the burst
    raw_reply: str = ""  # the model's reply before the finalizer (markup and hidden characters are judged on it)
    urgent: bool = False
    # Overrides for a dry run (evals): a candidate prompt text, a candidate set of retrieved chunks.
    prompt_override: str | None = None
    sources_override: list | None = None
    # The conversation when it is not stored (Knowledge → "Test a question"): read from the thread otherwise.
    history_override: list[Message] | None = None
    # A candidate knowledge change (evals): chunks put first among the retrieved ones (see _draft).
    extra_sources: list = field(default_factory=list)
    # A past moment to draft as of (evals): see reply_draft_compute.
    at: datetime | None = None
    # Writes the act step makes (the computation itself writes nothing).
    opt_out_at: datetime | None = None
    memory_writes: list[dict] = field(default_factory=list)

    def note_usage(self, result) -> None:
        if result is not None:
            self.input_tokens += result.input_tokens
            self.output_tokens += result.output_tokens


@dataclass
class DraftResult:
    """What `reply_draft_compute` found: the unsaved draft and the decision the act step would take."""

    draft: ReplyDraft
    decision: str
    reason: str
    reason_text: str
    run: Run

    @property
    def would_send(self) -> bool:
        return self.decision in (Decision.SENT, Decision.FAQ_ANSWERED)


def reply_draft_compute(*, message: Message, prompt_text: str | None = None, sources: list | None = None,
                        extra_sources: list | None = None, cfg: SidekickSettings | None = None,
                        at: datetime | None = None, history: list[Message] | None = None,
                        user=None) -> DraftResult:
    """Draft a reply to `message` (an inbound message) as the pipeline would, writing nothing.

    `prompt_text` replaces the workspace's current prompt revision, `sources` the retrieved knowledge
    (a list of `knowledge.selectors.RetrievedChunk`), `cfg` the workspace's settings. `extra_sources`
    (unsaved chunks: a candidate FAQ entry in an eval) are put first among the retrieved sources; a
    retrieved chunk of the same FAQ entry (`faq_id`) is dropped, so an edited entry replaces the stored
    one. `at` drafts as of a past moment (an eval re-drafting an old message): the rules on the moment
    (the messaging window, counted from `message` itself, and business hours), the prompt's "now" and
    the lead memory (only what was stored by then) use it. `history` is the conversation up to and
    including `message`, oldest first, for a message that is not stored (an unsaved message, thread and
    contact: "Test a question"); the thread's stored messages otherwise. `user` is the person who asked
    for the run (usage and quotas count it as theirs). Errors a run escalates on (model failures,
    quotas) come back as an escalated result; bugs raise.
    """
    thread = message.thread
    run = Run(message=message, thread=thread, contact=thread.contact,
              cfg=cfg or sidekick_settings_for(workspace=thread.workspace),
              prompt_override=prompt_text, sources_override=sources, extra_sources=list(extra_sources or []),
              at=at, history_override=history, user=user)
    draft = ReplyDraft(workspace_id=thread.workspace_id, thread=thread, inbound_message=message)
    return compute(run, draft)


def compute(run: Run, draft: ReplyDraft) -> DraftResult:
    """Fill `draft` (unsaved) from `run`; an `Escalate` on the way is the decision, not an error."""
    try:
        decision, reason, text = _compute(run, draft)
    except Escalate as stop:
        run.urgent = run.urgent or stop.urgent
        decision, reason, text = stop.decision, stop.reason, stop.text
    return DraftResult(draft=draft, decision=decision, reason=reason, reason_text=text, run=run)


def _compute(run: Run, draft: ReplyDraft) -> tuple[str, str, str]:
    """The draft and its decision, as (decision, reason, reason text); writes nothing (see module doc)."""
    cfg, now = run.cfg, run.at or timezone.now()
    last_inbound_at = run.message.sent_at if run.at else run.thread.last_inbound_at
    history = (thread_history(thread=run.thread, until=run.message) if run.history_override is None
               else run.history_override)
    run.burst = _burst(history) or [run.message]
    run.last_outbound = next((m.text for m in reversed(history) if m.direction != Direction.IN), "")
    run.history = P.conversation([("user" if m.direction == Direction.IN else "assistant", m.text) for m in history])

    # The inbound screen and the hard rules, on everything the contact wrote (captions included) and on
    # the moment: no model call when they already decide.
    for text in _screened_texts(run.burst):
        run.hits += [h for h in rules.check_inbound(text, language=cfg.language, blacklist=cfg.blacklist)
                     if h.rule not in {x.rule for x in run.hits}]
    run.hits += rules.check_context(now=now, last_inbound_at=last_inbound_at, hours=business_hours_of(cfg),
                                    tz=run.thread.workspace.timezone, opted_out=False)
    codes = {h.rule for h in run.hits if h.blocking}
    if "opt_out" in codes:
        run.opt_out_at = now  # applied by the act step
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

    if run.prompt_override is None:
        run.prompt, draft.prompt_revision = prompt_text_current(workspace=run.thread.workspace)
    else:
        run.prompt, draft.prompt_revision = run.prompt_override, None
    try:
        parsed = _draft(run, draft)
    except NoProviderConfigured:
        return _faq_mode(run, draft)

    # Memory: what the contact stated, kept whatever happens to the reply (applied by the act step).
    run.memory_writes = list(parsed.get("memory_writes") or [])
    if draft.human_requested:
        raise Escalate("human_requested", "The drafting model found that the contact asks for a human.")

    run.raw_reply = parsed["reply"]
    text = overseer_gate(run, draft, plain_text(parsed["reply"]))
    kind, detail = evidence_for(run, parsed, text)
    confidence = combine(self_rating=parsed["confidence"], evidence_kind=kind, detail=detail,
                         reviewer_verdict=run.overseer.get("verdict"), penalties=[h.penalty for h in run.hits])
    draft.confidence, draft.confidence_parts = confidence.value, confidence.parts
    draft.final_text = fit_text(text, run.thread.channel.platform)

    if "sensitive" in codes:
        return Decision.DRAFT_SAVED, "sensitive", rules.SCREEN_RULES["sensitive"]
    if "business_hours" in codes:
        return Decision.DRAFT_SAVED, "business_hours", ""
    if not cfg.auto_send:
        return Decision.DRAFT_SAVED, "auto_send_off", ""
    if not should_auto_send(confidence=confidence.value, threshold=cfg.threshold, blocking_hits=len(codes)):
        threshold = C.effective_threshold(cfg.threshold)
        why = (f"Confidence {confidence.value:.2f} is below the threshold {threshold:.2f}." if kind != "none" else
               "No retrieved source backs the reply (and the message is not small talk), so it is not sent "
               "automatically, whatever the model's own confidence.")
        return Decision.DRAFT_SAVED, "low_confidence", why
    _screen_call(run)
    return Decision.SENT, "", ""


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


def _draft(run: Run, draft: ReplyDraft) -> dict:
    workspace = run.thread.workspace
    query = " ".join(m.text for m in run.burst)[-1000:]
    if run.sources_override is not None:
        run.sources = list(run.sources_override)
    else:
        run.sources = knowledge_search(workspace=workspace, query=query, limit=SOURCES_LIMIT) if query.strip() else []
    if run.extra_sources:
        replaced = {c.faq_id for c in run.extra_sources if c.faq_id}
        run.sources = [*run.extra_sources, *(c for c in run.sources if c.faq_id is None or c.faq_id not in replaced)
                       ][:max(SOURCES_LIMIT, len(run.extra_sources))]
    if run.contact.pk is None:  # an unsaved contact (a test question) has no memory
        memory = []
    else:
        memories = LeadMemory.objects.filter(contact=run.contact, expires_at__gt=run.at or timezone.now())
        if run.at:  # as of a past moment: only what the contact had said by then
            memories = memories.filter(created_at__lte=run.at)
        memory = list(memories.order_by("-created_at").values("kind", "text")[:MEMORY_LIMIT])
    cfg = run.cfg
    hours = ("always open" if cfg.business_hours_policy == "always" else
             f"days {cfg.business_days} {cfg.opens_at:%H:%M}-{cfg.closes_at:%H:%M}")
    system = P.system_prompt(prompt=run.prompt, business=workspace.name, tz=workspace.timezone,
                             now=run.at or timezone.now(),
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
                      conversational=C.conversational_intent(latest, last_outbound=run.last_outbound), message=latest)


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
                             provider=provider, max_tokens=SCREEN_MAX_TOKENS)
    flags = sorted({str(f) for f in result.parsed.get("flags") or []} - {"none"})
    run.overseer["screen"] = flags
    if flags:
        raise Escalate("model_screen", f"The screening model flagged the message: {', '.join(flags)}.",
                       urgent=bool(URGENT & set(flags)))


# --- no provider: FAQ-only mode -----------------------------------------------------------------------

def _faq_mode(run: Run, draft: ReplyDraft) -> tuple[str, str, str]:
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
    return Decision.FAQ_ANSWERED, "faq_match", ""
