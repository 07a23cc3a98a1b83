"""Timed follow-up sequences: each quiet thread's due step is drafted once, gated like a reply, then sent
or left for a setter.

    beat (every minute) → `follow_ups_sweep` lists threads that may have a step due → one
    `follow_up_step_run(thread_id=...)` task each → plan (`selectors.thread_follow_up_plan`) under
    the thread's lock → claim the step (a `FollowUpStepRun` row, unique per anchor and position)
    → draft and decide (`pipeline.follow_up.follow_up_draft_decide`, the on-demand path) → record.

Rules (the README's "Follow-up sequences" says the same for admins):
- The delay counts from the business's last message the contact has not answered (the anchor). The
  nudges themselves do not move it; any other business message starts a new sequence from step 1.
- The contact's reply ends the sequence. Opt-out, a booking, a closed stage, a takeover (AI paused),
  another app in control, an inactive channel, Sidekick switched off or a blacklisted topic in the
  contact's last messages stop it: met when a step is due, the stop is recorded and the sequence for
  that anchor is over (resuming the AI later does not revive it; the next business message starts a
  new one).
- Never outside Meta's rules: a step due past the 24-hour window is skipped with its reason, unless it
  is a Human Agent step on a Messenger Page with the permission, the workspace allows the tag, and the
  contact wrote within 7 days: then it is drafted and always left for a setter (automated content may
  never carry the tag; the setter sends it in their own words).
- When several steps are due at once (the sweeper was down), only the latest runs; the others are
  recorded as skipped. A step is not drafted while the previous step's draft still waits for a setter.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, Subquery
from django.utils import timezone

from conversations.models import (
    Decision,
    Direction,
    DraftKind,
    FollowUpOutcome,
    FollowUpStep,
    FollowUpStepRun,
    Message,
    ReplyDraft,
    SendStatus,
    Thread,
)
from conversations.selectors import PENDING_DECISIONS, sidekick_settings_for, thread_follow_up_plan
from integrations.meta.limits import HUMAN_AGENT_WINDOW, send_window
from sidekick_project.db import savepoint_if_in_transaction
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

_OUTCOMES = {Decision.SENT: FollowUpOutcome.SENT, Decision.DRAFT_SAVED: FollowUpOutcome.REVIEW,
             Decision.BLOCKED: FollowUpOutcome.BLOCKED, Decision.ESCALATED: FollowUpOutcome.BLOCKED,
             Decision.SUPERSEDED: FollowUpOutcome.SKIPPED}


def follow_up_candidates(*, now: datetime, limit: int = 5000) -> list[int]:
    """Threads that may have a step due: the business wrote last, the contact wrote within 7 days (no
    step can go out later than that), and the workspace's earliest enabled step has passed since the
    business's last message... or since an earlier one (the plan decides; this only narrows the scan)."""
    earliest = (FollowUpStep.objects.filter(workspace=OuterRef("workspace"), enabled=True)
                .values("workspace").annotate(m=Min("delay_hours")).values("m"))
    # Paused or opted-out threads stay in: the sweep records the stop on the step that meets it.
    threads = (Thread.objects.filter(last_inbound_at__gt=now - HUMAN_AGENT_WINDOW, last_outbound_at__gt=F("last_inbound_at"))
               .filter(Exists(FollowUpStep.objects.filter(workspace=OuterRef("workspace"), enabled=True)))
               .annotate(first_due=ExpressionWrapper(F("last_inbound_at") + Subquery(earliest) * timedelta(hours=1),
                                                     output_field=DateTimeField()))
               .filter(first_due__lte=now)
               # A sequence stopped since the business last wrote is over until the business writes again.
               .exclude(Exists(FollowUpStepRun.objects.filter(thread=OuterRef("pk"), outcome=FollowUpOutcome.STOPPED,
                                                              created_at__gte=OuterRef("last_outbound_at"))))
               # So is one whose last enabled step has run for the current anchor. Without this, finished
               # threads (the oldest `last_outbound_at` first) would fill the limit ahead of due ones.
               .exclude(Exists(_finished_runs())))
    return list(threads.order_by("last_outbound_at").values_list("pk", flat=True)[:limit])


def _finished_runs():
    """Runs (of the outer thread) of the workspace's last enabled step (no enabled step after it) for the
    thread's current anchor, as `thread_follow_up_plan` sees it: the anchor is still unanswered, and the
    business has sent nothing after it but follow-ups. Per thread, index lookups only (EXPLAIN on 20,000
    quiet threads among 70,000): its runs by thread, a later step by (workspace, position), the anchor by
    primary key, later messages by `message_thread_sent_idx`, their drafts by `outbound_message`."""
    later_business_message = (
        Message.objects.filter(thread=OuterRef("thread"), direction=Direction.OUT, sent_at__gt=OuterRef("anchor_message__sent_at"),
                               is_deleted=False)
        .filter(Q(send_status__isnull=True) | Q(send_status=SendStatus.SENT))
        .exclude(Exists(ReplyDraft.objects.filter(outbound_message=OuterRef("pk"), kind=DraftKind.FOLLOW_UP))))
    later_step = FollowUpStep.objects.filter(workspace=OuterRef("workspace"), enabled=True, position__gt=OuterRef("position"))
    return (FollowUpStepRun.objects.filter(thread=OuterRef("pk"), anchor_message__sent_at__gt=OuterRef("last_inbound_at"))
            .exclude(Exists(later_step)).exclude(Exists(later_business_message)))


def follow_ups_sweep(*, now: datetime | None = None, limit: int = 5000) -> dict:
    """Beat: enqueue one step task per candidate thread (the task's claim makes a duplicate harmless)."""
    from conversations.tasks import run_follow_up_step  # the task module imports this one

    now = now or timezone.now()
    candidates = follow_up_candidates(now=now, limit=limit)
    return {"candidates": len(candidates),
            "enqueued": sum(1 for pk in candidates if task_enqueue(run_follow_up_step, args=[pk]))}


def _window_skip(thread: Thread, cfg, step: FollowUpStep, now: datetime) -> tuple[str, str, bool]:
    """('', '', human_agent) when the step may be drafted now, else (reason, text, False)."""
    channel = thread.channel
    window = send_window(platform=channel.platform, last_inbound_at=thread.last_inbound_at, now=now, human=False,
                         human_agent_enabled=channel.human_agent_enabled)
    if window.allowed:
        return "", "", False
    if not step.use_human_agent_tag:
        return "window_closed", "Due after the 24-hour window closed: Sidekick may not write any more.", False
    if channel.platform != "messenger":
        return "window_closed", "Due after the 24-hour window; Instagram has no Human Agent tag for it.", False
    if not cfg.use_human_agent_tag:
        return "human_agent_off", "Due after the 24-hour window; the workspace does not allow the Human Agent tag.", False
    human = send_window(platform=channel.platform, last_inbound_at=thread.last_inbound_at, now=now, human=True,
                        human_agent_enabled=channel.human_agent_enabled)
    if not human.allowed:
        return "window_closed", f"Due when no one may write any more ({human.reason}).", False
    return "", "", True


def _record(thread: Thread, anchor, step: FollowUpStep, **fields) -> FollowUpStepRun | None:
    """Insert the step's run (the claim); None when another worker (or an earlier sweep) has it."""
    try:
        with savepoint_if_in_transaction():
            return FollowUpStepRun.objects.create(workspace_id=thread.workspace_id, thread=thread, anchor_message=anchor,
                                                  position=step.position, delay_hours=step.delay_hours, **fields)
    except IntegrityError:
        return None


def follow_up_step_run(*, thread_id: int, now: datetime | None = None) -> FollowUpStepRun | None:
    """Run the thread's due step, if any (see the module docstring). Returns its run, or None when
    nothing was due or another worker has it. Makes LLM calls: call it outside a transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked, skipping a thread another worker is planning: that worker decides this step.
        thread = (Thread.objects.select_for_update(of=("self",), skip_locked=True)
                  .select_related("contact", "channel", "workspace").defer("search_vector")
                  .filter(pk=thread_id).first())
        if thread is None:
            return None
        cfg = sidekick_settings_for(workspace=thread.workspace)
        plan = thread_follow_up_plan(thread=thread, now=now, cfg=cfg)
        if plan.status == "stopped" and plan.step is not None and plan.due_at <= now:
            # Recorded once, on the step that met it: the sequence for this anchor is over.
            return _record(thread, plan.anchor, plan.step, outcome=FollowUpOutcome.STOPPED, reason_code=plan.reason,
                           reason_text=plan.reason_text)
        if plan.status != "due":
            return None
        for missed in plan.overtaken:
            _record(thread, plan.anchor, missed, outcome=FollowUpOutcome.SKIPPED, reason_code="overtaken",
                    reason_text=f"Step {plan.step.position} was due too; only the latest due step is sent.")
        step = plan.step
        if ReplyDraft.objects.filter(thread=thread, kind=DraftKind.FOLLOW_UP, disposition="",
                                     decision__in=PENDING_DECISIONS).exists():
            return _record(thread, plan.anchor, step, outcome=FollowUpOutcome.SKIPPED, reason_code="previous_pending",
                           reason_text="An earlier follow-up still waits for a setter.")
        reason, text, human_agent = _window_skip(thread, cfg, step, now)
        if reason:
            return _record(thread, plan.anchor, step, outcome=FollowUpOutcome.SKIPPED, reason_code=reason,
                           reason_text=text)
        run = _record(thread, plan.anchor, step, human_agent=human_agent)
        if run is None:
            return None
        run.draft = ReplyDraft.objects.create(workspace_id=thread.workspace_id, thread=thread, kind=DraftKind.FOLLOW_UP)
        run.save(update_fields=["draft"])
    from conversations.pipeline.follow_up import follow_up_draft_decide

    draft = follow_up_draft_decide(thread=thread, draft=run.draft, step=step.position, human_agent=human_agent)
    run.outcome = _OUTCOMES.get(draft.decision, FollowUpOutcome.BLOCKED)
    run.reason_code = draft.reason_code
    run.reason_text = str((draft.reasons or {}).get("text", ""))[:500]
    run.save(update_fields=["outcome", "reason_code", "reason_text"])
    logger.info("follow-up step %s on thread %s -> %s %s", step.position, thread.pk, run.outcome, run.reason_code)
    return run
