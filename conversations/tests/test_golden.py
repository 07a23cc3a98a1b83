"""The golden conversation suite: every case in golden/*.yaml through the real pipeline.

The model is the fake LLM server on loopback (the real Anthropic or OpenAI SDK talks to it in its
wire format), scripted per case; Meta is the sandbox Graph stand-in, whose records are what "reached
Meta". For every case we assert the decision, the reason, the number of model calls, and that
nothing unsafe was sent: nothing at all unless the decision is to send, and a sent text never holds
a blacklisted phrase, a run of the protected prompt, or markup.

Case format (all keys but `id`, `inbound` and `expect` optional):

    - id: short_name
      provider: anthropic | openai | none          # default anthropic; none = no LLM configured
      settings: {threshold: 0.8, blacklist: [...], language: es, auto_send: true, enabled: true,
                 business_hours_policy: within, business_days: [], opens_at: "09:00", closes_at: "18:00"}
      prompt: custom business prompt (a PromptRevision)
      faqs: [{q: question, a: answer}]            # knowledge: refer to them as faq0, faq1 in `cite`
      memory: [{kind: fact, text: ...}]
      thread: {ai_paused: true} / contact: {opted_out: true}
      platform: instagram | messenger
      history: [{from: contact|ai|setter, text: ..., minutes_ago: 30}]
      inbound: [messages of the burst, oldest first]  # an item may be {text: .., caption: .., title: ..}:
                                                    # an attachment with a caption or a title
      inbound_minutes_ago: 0                        # of the last inbound message (window cases)
      llm: {timeout: 0.3, max_retries: 0, quota_exhausted: true}
      script:                                       # the model's answers, in order
        - draft: {reply: ..., confidence: 0.9, cite: [faq0], ...}   # merged onto a plausible default
        - review: {verdict: approve|rewrite|veto, reasons: [...], rewritten_reply: ...}
        - screen: {flags: [crisis, ...]}              # the screening model; a case expecting `sent`
                                                      # gets a clean screen appended when it names none
        - raw: text                                 # plain text instead of structured output
        - bad: {...}                                # structured but off-schema
        - error: 500 | 401 | 429 | malformed_json
        - hang: 3                                   # answer after 3 s (a timeout)
      expect: {decision: sent|escalated|blocked|draft_saved|faq_answered|skipped, reason: code,
               sent_contains: text, memory: 1, opted_out: true}
"""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml

from contacts.models import Contact, LeadMemory
from conversations.models import Decision, Escalation, EscalationStatus, PromptRevision, SenderKind, Thread
from conversations.pipeline import outbound, rules
from conversations.pipeline import prompt as P
from conversations.pipeline.engine import reply_pipeline_run
from conversations.selectors import prompt_text_current, sidekick_settings_for
from conversations.tests.pipeline_fixtures import draft_reply
from integrations.llm.models import LLMQuotaPolicy
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"
CASES = [case for path in sorted(GOLDEN.glob("*.yaml")) for case in yaml.safe_load(path.read_text())]
ESCALATING = {"human_requested", "reviewer_veto", "llm_error", "invalid_output", "quota_exceeded", "no_provider",
              "low_confidence", "blacklist", "prompt_leak", "window", "empty", "pipeline_error"}
MARKUP = ("**", "```", "<b>", "</", "# ", "](http")


def test_golden_suite_is_big_enough():
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 40 and len(ids) == len(set(ids))
    assert {c.get("provider", "anthropic") for c in CASES} >= {"anthropic", "openai", "none"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden(case, scene, fake_llm, settings):
    workspace = scene.workspace
    _configure(case, scene, fake_llm, settings)
    faq_chunks = [faq_create(workspace=workspace, question=f["q"], answer=f["a"], actor=None).chunks.get().pk
                  for f in case.get("faqs", [])]
    _script(case, fake_llm, faq_chunks)

    messages = _conversation(case, scene)
    drafts = [reply_pipeline_run(message_id=m.pk) for m in messages]
    expect = case["expect"]
    draft = drafts[-1]
    for earlier in drafts[:-1]:
        if earlier is not None:
            assert earlier.decision == Decision.SUPERSEDED, "a burst is answered once, to its latest message"

    # The decision and its reason.
    if expect["decision"] == "skipped":
        assert draft is None
    else:
        assert draft is not None
        assert (draft.decision, draft.reason_code) == (expect["decision"], expect.get("reason", "")), draft.reasons

    # The model was asked exactly what the script foresaw (and no more).
    unscripted = [r for r in fake_llm.requests if r.headers.get("x-unscripted")]
    assert fake_llm.pending == 0, "the pipeline made fewer model calls than scripted"
    assert len(fake_llm.requests) == len(replies_expected(case)), "the pipeline made unscripted model calls"
    assert not unscripted

    # Nothing unsafe reached Meta.
    sent = [s["message"]["text"] for s in scene.deliver_sends()]
    if expect["decision"] in (Decision.SENT, Decision.FAQ_ANSWERED):
        assert sent == [draft.final_text]
        if "sent_contains" in expect:
            assert expect["sent_contains"] in sent[0]
        _assert_safe(sent[0], scene, case)
    else:
        assert sent == [], f"{expect['decision']} must send nothing"

    # Handoff: an escalation opens and the AI pauses; the contact's state follows the rules.
    scene.refresh()
    if draft is not None and draft.reason_code in ESCALATING:
        escalation = Escalation.objects.get(thread=scene.thread, status=EscalationStatus.OPEN)
        assert escalation.reason_code == draft.reason_code and escalation.draft_id == draft.pk
        assert scene.thread.ai_paused and scene.thread.needs_human
    elif draft is not None and draft.decision in (Decision.SENT, Decision.FAQ_ANSWERED):
        assert not Escalation.objects.filter(thread=scene.thread).exists()
    if "memory" in expect:
        assert LeadMemory.objects.filter(contact=scene.contact).count() == expect["memory"]
    if "opted_out" in expect:
        assert scene.contact.opted_out is expect["opted_out"]


def _configure(case, scene, fake_llm, settings):
    workspace = scene.workspace
    cfg = sidekick_settings_for(workspace=workspace)
    for name, value in (case.get("settings") or {}).items():
        setattr(cfg, name, time.fromisoformat(value) if name in ("opens_at", "closes_at") else value)
    cfg.debounce_seconds = 0
    cfg.save()
    if case.get("prompt"):
        PromptRevision.objects.create(workspace=workspace, number=1, text=case["prompt"])
    if case.get("platform") == "messenger":
        scene.channel.platform = "messenger"
        scene.channel.save(update_fields=["platform"])
    if case.get("thread"):
        Thread.objects.filter(pk=scene.thread.pk).update(**case["thread"])
    if case.get("contact"):
        Contact.objects.filter(pk=scene.contact.pk).update(**case["contact"])
    for memory in case.get("memory", []):
        LeadMemory.objects.create(workspace=workspace, contact=scene.contact, kind=memory["kind"], text=memory["text"])
    llm = case.get("llm") or {}
    settings.LLM_TIMEOUT_SECONDS = llm.get("timeout", 5.0)
    settings.LLM_MAX_RETRIES = llm.get("max_retries", 2)
    if llm.get("quota_exhausted"):
        LLMQuotaPolicy.objects.create(workspace=workspace, workspace_daily=0)
    provider = case.get("provider", "anthropic")
    if provider != "none":
        fake_llm.provider(workspace, kind=provider)


def _script(case, fake_llm, faq_chunks):
    def cite(ids):
        return [f"K{faq_chunks[int(i.removeprefix('faq'))]}" if str(i).startswith("faq") else str(i) for i in ids]

    replies = []
    for step in replies_expected(case):
        (kind, value), = step.items()
        if kind == "draft":
            value = dict(value or {})
            value["cited_source_ids"] = cite(value.pop("cite", value.get("cited_source_ids", [])))
            replies.append(Reply.structured(draft_reply(**value)))
        elif kind == "review":
            replies.append(Reply.structured({"reasons": ["Looks right."], **value}))
        elif kind == "screen":
            replies.append(Reply.structured(value))
        elif kind == "raw":
            replies.append(Reply.text(value))
        elif kind == "bad":
            replies.append(Reply.structured(value))
        elif kind == "hang":
            replies.append(Reply.hang(float(value)))
        elif kind == "error":
            replies.append(Reply.malformed_json() if value == "malformed_json" else
                           Reply.rate_limited(retry_after=0.01) if value == 429 else Reply.error(int(value)))
        else:
            raise ValueError(f"unknown script step {kind!r}")
    fake_llm.queue(*replies)
    # An unscripted call gets a permanent error (and is reported by the test).
    fake_llm.handler = lambda request: (request.headers.__setitem__("x-unscripted", "1"),
                                        Reply.error(400, "unscripted model call"))[1]


def replies_expected(case) -> list:
    steps = list(case.get("script", []))
    if case["expect"]["decision"] == "sent" and not any("screen" in step for step in steps):
        steps.append({"screen": {"flags": ["none"]}})
    return steps


def _conversation(case, scene):
    for turn in case.get("history", []):
        ago = timedelta(minutes=turn.get("minutes_ago", 60))
        if turn["from"] == "contact":
            scene.inbound(turn["text"], ago=ago)
        else:
            scene.outbound(turn["text"], ago=ago,
                           sender_kind=SenderKind.AI if turn["from"] == "ai" else SenderKind.SETTER)
    burst = case["inbound"]
    last_ago = timedelta(minutes=case.get("inbound_minutes_ago", 0))
    messages = []
    for i, item in enumerate(burst):
        text, attachments = _inbound_parts(item)
        messages.append(scene.inbound(text, attachments=attachments, ago=last_ago + timedelta(seconds=len(burst) - i - 1)))
    return messages


def _inbound_parts(item) -> tuple[str, list[dict]]:
    """A burst message: its text, or {text, caption, title} for a photo with a caption or a titled share."""
    if isinstance(item, str):
        return item, []
    payload = {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}
    if item.get("caption"):
        payload["caption"] = item["caption"]
    return item.get("text", ""), [{"type": item.get("type", "image"), "url": payload["url"],
                                   "title": item.get("title"), "payload": payload}]


def _assert_safe(text: str, scene, case):
    cfg = sidekick_settings_for(workspace=scene.workspace)
    assert rules.blacklisted_phrase(text, cfg.blacklist) is None
    prompt, _ = prompt_text_current(workspace=scene.workspace)
    assert not outbound.leaks_system_prompt(text, P.protected_text(P.business_prompt(prompt,
                                                                                     business=scene.workspace.name)))
    assert not any(mark in text for mark in MARKUP), text
    limit = 1000 if scene.channel.platform == "instagram" else 1999
    assert len(text.encode() if scene.channel.platform == "instagram" else text) <= limit
