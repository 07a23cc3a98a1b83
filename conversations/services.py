"""Writes the dashboard calls: takeover, drafts, setter replies, escalations, prompt, settings, follow-ups
(on demand, and the workspace's timed sequence).

Views check workspace membership and role; these functions re-check what cannot be left to a view
(admin-only changes, state transitions claimed with conditional updates) and audit what is
security-relevant. Sends go through `conversations.sending` (idempotent, enqueued after commit).
"""

from __future__ import annotations

import re
from datetime import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership
from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from conversations import action_log, escalations
from conversations.models import (
    ActionKind,
    BusinessHoursPolicy,
    Decision,
    DraftDisposition,
    DraftKind,
    Escalation,
    EscalationStatus,
    FollowUpStep,
    Message,
    PromptRevision,
    ReplyDraft,
    SenderKind,
    SidekickActionLog,
    SidekickSettings,
    Thread,
    ThreadStatus,
)
from conversations.pipeline.confidence import THRESHOLD_FLOOR, THRESHOLD_MINIMUM
from conversations.selectors import draft_approve_state, thread_reply_state
from conversations.sending import SendRefused, outbound_message_create
from conversations.settings_rows import sidekick_settings_ensure


class DraftNotActionable(ValueError):
    """The draft was already sent, discarded or superseded, or has no text."""


class EscalationStateError(ValueError):
    """The escalation is not in a state that allows this transition."""


def _require_admin(*, workspace, actor) -> None:
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only workspace admins can change this.")


# --- Takeover -------------------------------------------------------------------------------------

@transaction.atomic
def thread_takeover(*, thread: Thread, actor) -> Thread:
    """A setter takes the thread: the AI neither drafts nor sends until `thread_resume_ai`.

    A conditional update: a double click or two setters at once pause (and audit) once.
    """
    changed = Thread.objects.filter(pk=thread.pk, ai_paused=False).update(
        ai_paused=True, ai_paused_at=timezone.now(), ai_paused_reason=f"taken over by {actor.email}"[:200],
        ai_paused_by=actor)
    if changed:
        audit_event_record(verb="thread.takeover", workspace=thread.workspace, actor=actor, target=thread)
    thread.refresh_from_db()
    return thread


@transaction.atomic
def thread_resume_ai(*, thread: Thread, actor) -> Thread:
    """Hand the thread back to Sidekick: unpause, clear the needs-human flag, resolve open escalations.

    Sidekick answers the contact's next message; what arrived while paused stays with the setter.
    Audited once: resuming a thread that is not paused or flagged changes nothing.
    """
    now = timezone.now()
    changed = Thread.objects.filter(Q(ai_paused=True) | Q(needs_human=True), pk=thread.pk).update(
        ai_paused=False, ai_paused_at=None, ai_paused_reason="", ai_paused_by=None, needs_human=False,
        needs_human_reason="")
    resolved = Escalation.objects.filter(
        thread=thread, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).update(
        status=EscalationStatus.RESOLVED, resolved_by=actor, resolved_at=now)
    if changed or resolved:
        audit_event_record(verb="thread.ai_resumed", workspace=thread.workspace, actor=actor, target=thread)
    thread.refresh_from_db()
    return thread


# --- Drafts and setter replies --------------------------------------------------------------------

_ACTIONABLE = [Decision.DRAFT_SAVED, Decision.ESCALATED, Decision.BLOCKED]


def _claim_draft(draft: ReplyDraft, *, disposition: str, actor) -> None:
    claimed = ReplyDraft.objects.filter(pk=draft.pk, disposition="", decision__in=_ACTIONABLE).update(
        disposition=disposition, disposition_by=actor, disposition_at=timezone.now())
    if not claimed:
        raise DraftNotActionable("This draft was already handled.")
    escalations.escalation_close_for_draft(draft=draft, actor=actor)
    draft.refresh_from_db()


def _send_as_setter(*, draft: ReplyDraft, text: str, disposition: str, actor) -> Message:
    # The same refusals as the composer's (opted out, channel inactive, window closed): a pending draft
    # may be older than the contact's STOP.
    state = thread_reply_state(thread=draft.thread)
    if not state.allowed:
        raise SendRefused(state.reason)
    message = outbound_message_create(thread=draft.thread, text=text, sender_kind=SenderKind.SETTER, sent_by=actor,
                                      disposition=disposition, idempotency_key=f"draft:{draft.pk}")
    ReplyDraft.objects.filter(pk=draft.pk).update(outbound_message=message)
    action_log.action_log_add(thread=draft.thread, draft=draft, message=message, text=message.text, actor=actor,
                          action=ActionKind.FOLLOW_UP_SENT if draft.kind == DraftKind.FOLLOW_UP
                          else ActionKind.SENT_REPLY, confidence=draft.confidence, result="queued")
    draft.refresh_from_db()
    return message


@transaction.atomic
def draft_approve(*, draft: ReplyDraft, actor) -> Message:
    """Send the AI draft unchanged, by the setter (`sender_kind=setter`, disposition `approved`).

    Still automated content for Meta's rules (no HUMAN_AGENT tag), so where only that tag would allow a
    message it is refused here with the reason (`selectors.draft_approve_state`), before the claim,
    instead of failing at send time. Does not pause the AI.
    """
    text = draft.final_text or draft.text
    if not text.strip():
        raise DraftNotActionable("This draft has no text to send.")
    state = draft_approve_state(thread=draft.thread)
    if not state.allowed:
        raise SendRefused(state.reason)
    _claim_draft(draft, disposition=DraftDisposition.APPROVED, actor=actor)
    return _send_as_setter(draft=draft, text=text, disposition=DraftDisposition.APPROVED, actor=actor)


@transaction.atomic
def draft_edit_and_send(*, draft: ReplyDraft, text: str, actor) -> Message:
    """Send the setter's edit of the draft (disposition `edited`); the setter now has the thread."""
    if not (text or "").strip():
        raise ValidationError("Write something to send.")
    if text.strip() == (draft.final_text or draft.text).strip():
        # The AI's text untouched is an approval, whatever the button: the same refusal applies.
        state = draft_approve_state(thread=draft.thread)
        if not state.allowed:
            raise SendRefused(state.reason)
    _claim_draft(draft, disposition=DraftDisposition.EDITED, actor=actor)
    message = _send_as_setter(draft=draft, text=text, disposition=DraftDisposition.EDITED, actor=actor)
    escalations.thread_pause(thread_id=draft.thread_id, reason=f"{actor.email} replied"[:200], by=actor)
    return message


@transaction.atomic
def draft_discard(*, draft: ReplyDraft, actor) -> ReplyDraft:
    _claim_draft(draft, disposition=DraftDisposition.DISCARDED, actor=actor)
    return draft


@transaction.atomic
def setter_reply_send(*, thread: Thread, text: str, actor) -> Message:
    """A setter's own message. Pauses the AI on the thread (the setter is in the conversation now).

    Raises SendRefused with a reason a setter can read (window closed, channel inactive, opted out);
    `conversations.sending.message_send` checks the window again at send time and tags the message
    HUMAN_AGENT when that is what allows it.
    """
    if not (text or "").strip():
        raise ValidationError("Write something to send.")
    state = thread_reply_state(thread=thread)
    if not state.allowed:
        raise SendRefused(state.reason)
    message = outbound_message_create(thread=thread, text=text, sender_kind=SenderKind.SETTER, sent_by=actor)
    escalations.thread_pause(thread_id=thread.pk, reason=f"{actor.email} replied"[:200], by=actor)
    return message


@transaction.atomic
def thread_needs_human_clear(*, thread: Thread, actor) -> bool:
    """A setter dealt with whatever made Sidekick flag the thread. True if it changed."""
    reason = thread.needs_human_reason
    changed = Thread.objects.filter(pk=thread.pk, needs_human=True).update(
        needs_human=False, needs_human_reason="", needs_human_at=None)
    if changed:
        thread.needs_human, thread.needs_human_reason, thread.needs_human_at = False, "", None
        audit_event_record(verb="thread.needs_human_cleared", workspace=thread.workspace, actor=actor,
                           target=thread, data={"reason": reason})
    return bool(changed)


def thread_mark_read(*, thread: Thread) -> None:
    """A setter opened the thread: nothing in it is unread any more (no write when already read)."""
    Thread.objects.filter(pk=thread.pk, unread_count__gt=0).update(unread_count=0)
    thread.unread_count = 0


# --- Working the inbox: assignment and status ----------------------------------------------------
# Each change is a conditional update (a double click or a repeated shortcut changes, and logs, once)
# and is recorded in the thread's action log with the member who made it.

class AssignmentRefused(ValueError):
    """The assignee is not a member of the thread's workspace."""


class SnoozeRefused(ValueError):
    """The snooze time is not in the future."""


@transaction.atomic
def thread_assign(*, thread: Thread, assignee, actor) -> bool:
    """Give the thread to ``assignee`` (a member of its workspace), or to nobody with ``None``.

    Raises AssignmentRefused for anyone else (a super-admin without a membership included: the inbox
    filters by members). True if it changed.
    """
    # The membership row locked: a concurrent `member_remove` (which locks it too) either waits for this
    # assignment and then unassigns it, or has removed the member and this is refused.
    if assignee is not None and not Membership.objects.select_for_update().filter(
            workspace_id=thread.workspace_id, user=assignee).exists():
        raise AssignmentRefused("Threads can only be assigned to members of this workspace.")
    now = timezone.now()
    rows = Thread.objects.filter(pk=thread.pk)
    rows = rows.exclude(assigned_to=assignee) if assignee is not None else rows.filter(assigned_to__isnull=False)
    changed = rows.update(assigned_to=assignee, assigned_at=now if assignee is not None else None)
    thread.assigned_to, thread.assigned_at = assignee, (now if assignee is not None else None)
    if changed:
        action_log.action_log_add(thread=thread, action=ActionKind.ASSIGNED, actor=actor,
                                  result=f"to {assignee.email}" if assignee is not None else "unassigned")
    return bool(changed)


@transaction.atomic
def threads_unassign_member(*, workspace, user, actor) -> int:
    """A member left ``workspace``: their threads there go back to nobody (the "unassigned" filter and its
    counts), one action log row each, by ``actor`` (who removed them). Their threads in other workspaces
    stay theirs. Sent from accounts' ``member_removed`` signal (see `apps.ready`). Returns how many."""
    threads = list(Thread.objects.select_for_update().filter(workspace=workspace, assigned_to=user)
                   .only("pk", "workspace_id", "contact_id"))
    if not threads:
        return 0
    Thread.objects.filter(pk__in=[t.pk for t in threads]).update(assigned_to=None, assigned_at=None)
    result = f"unassigned: {user.email} was removed from the workspace"[:200]
    SidekickActionLog.objects.bulk_create([
        SidekickActionLog(workspace_id=t.workspace_id, thread_id=t.pk, contact_id=t.contact_id,
                          action=ActionKind.ASSIGNED, result=result, actor=actor if actor and actor.pk else None)
        for t in threads])
    return len(threads)


@transaction.atomic
def thread_snooze(*, thread: Thread, until, actor) -> bool:
    """Put the thread aside until ``until`` (aware, in the future); it counts as open again after that
    (`selectors.inbox_threads`) or as soon as the contact writes. A resolved thread can be snoozed too
    (it reopens then). True if it changed."""
    now = timezone.now()
    if until is None or until <= now:
        raise SnoozeRefused("Choose a time in the future.")
    changed = Thread.objects.filter(pk=thread.pk).exclude(status=ThreadStatus.SNOOZED, snoozed_until=until).update(
        status=ThreadStatus.SNOOZED, snoozed_until=until)
    thread.status, thread.snoozed_until = ThreadStatus.SNOOZED, until
    if changed:
        action_log.action_log_add(thread=thread, action=ActionKind.SNOOZED, actor=actor,
                                  result=f"until {until.isoformat(timespec='minutes')}")
    return bool(changed)


@transaction.atomic
def thread_resolve(*, thread: Thread, actor) -> bool:
    """The conversation is done: resolved, out of the open tab, its needs-human flag cleared and any open
    escalation closed (the queue would list a done thread otherwise). The AI stays as it was. A new
    message from the contact reopens it. True if it changed (resolving twice logs once)."""
    now = timezone.now()
    changed = Thread.objects.filter(pk=thread.pk).exclude(status=ThreadStatus.RESOLVED).update(
        status=ThreadStatus.RESOLVED, snoozed_until=None, resolved_at=now, resolved_by=actor,
        needs_human=False, needs_human_reason="", needs_human_at=None)
    if not changed:
        return False
    Escalation.objects.filter(thread=thread, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).update(
        status=EscalationStatus.RESOLVED, resolved_by=actor, resolved_at=now)
    thread.status, thread.snoozed_until, thread.resolved_at, thread.resolved_by = ThreadStatus.RESOLVED, None, now, actor
    thread.needs_human, thread.needs_human_reason, thread.needs_human_at = False, "", None
    action_log.action_log_add(thread=thread, action=ActionKind.RESOLVED, actor=actor)
    return True


@transaction.atomic
def thread_reopen(*, thread: Thread, actor) -> bool:
    """Back to open, from snoozed or resolved. True if it changed."""
    changed = Thread.objects.filter(pk=thread.pk).exclude(status=ThreadStatus.OPEN).update(
        status=ThreadStatus.OPEN, snoozed_until=None)
    thread.status, thread.snoozed_until = ThreadStatus.OPEN, None
    if changed:
        action_log.action_log_add(thread=thread, action=ActionKind.REOPENED, actor=actor)
    return bool(changed)


# --- Escalations ----------------------------------------------------------------------------------

@transaction.atomic
def escalation_claim(*, escalation: Escalation, actor) -> Escalation:
    claimed = Escalation.objects.filter(pk=escalation.pk, status=EscalationStatus.OPEN).update(
        status=EscalationStatus.CLAIMED, claimed_by=actor, claimed_at=timezone.now())
    if not claimed:
        raise EscalationStateError("This escalation is already claimed or resolved.")
    escalation.refresh_from_db()
    return escalation


@transaction.atomic
def escalation_resolve(*, escalation: Escalation, actor, resume_ai: bool = False) -> Escalation:
    """Close the escalation; with ``resume_ai`` also hand the thread back to Sidekick."""
    resolved = Escalation.objects.filter(
        pk=escalation.pk, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).update(
        status=EscalationStatus.RESOLVED, resolved_by=actor, resolved_at=timezone.now())
    if not resolved:
        raise EscalationStateError("This escalation is already resolved.")
    Thread.objects.filter(pk=escalation.thread_id).update(needs_human=False, needs_human_reason="")
    if resume_ai:
        thread_resume_ai(thread=escalation.thread, actor=actor)
    escalation.refresh_from_db()
    return escalation


# --- Prompt and settings (admins) -----------------------------------------------------------------

@transaction.atomic
def prompt_revision_create(*, workspace, text: str, note: str = "", actor,
                           restored_from: PromptRevision | None = None) -> PromptRevision:
    """A new current prompt. Revisions are never edited; the newest one is used."""
    _require_admin(workspace=workspace, actor=actor)
    text = (text or "").strip()
    if not text:
        raise ValidationError("The prompt cannot be empty.")
    if len(text) > 20000:
        raise ValidationError("Keep the prompt under 20,000 characters.")
    # Numbering under a lock on the settings row, so two admins saving at once get distinct numbers.
    SidekickSettings.objects.select_for_update().filter(pk=sidekick_settings_ensure(workspace=workspace).pk).first()
    last = PromptRevision.objects.filter(workspace=workspace).order_by("-number").values_list("number", flat=True).first()
    revision = PromptRevision.objects.create(workspace=workspace, number=(last or 0) + 1, text=text, note=note[:300],
                                             author=actor, restored_from=restored_from)
    audit_event_record(verb="sidekick.prompt_revised", workspace=workspace, actor=actor, target=revision,
                       data={"number": revision.number, "note": note[:200],
                             "restored_from": restored_from.number if restored_from else None})
    return revision


def prompt_revision_restore(*, revision: PromptRevision, actor) -> PromptRevision:
    """Make an old revision current again, as a new revision (history is never rewritten)."""
    return prompt_revision_create(workspace=revision.workspace, text=revision.text, actor=actor,
                                  note=f"Restored revision {revision.number}", restored_from=revision)


_DOMAIN_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_SETTINGS_FIELDS = {"enabled", "auto_send", "threshold", "blacklist", "language", "business_hours_policy",
                    "business_days", "opens_at", "closes_at", "debounce_seconds", "follow_up_after_hours",
                    "use_human_agent_tag", "escalation_emails", "allowed_domains", "screen_provider"}


@transaction.atomic
def sidekick_settings_update(*, workspace, actor, **changes) -> SidekickSettings:
    """Change the workspace's Sidekick settings (admins). Unknown or invalid values raise ValidationError."""
    _require_admin(workspace=workspace, actor=actor)
    unknown = set(changes) - _SETTINGS_FIELDS
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}")
    cfg = SidekickSettings.objects.select_for_update().get(pk=sidekick_settings_ensure(workspace=workspace).pk)
    if "threshold" in changes:
        threshold = float(changes["threshold"])
        floor = THRESHOLD_MINIMUM if actor.is_superadmin else THRESHOLD_FLOOR
        if not floor <= threshold <= 1.0:
            who = "" if actor.is_superadmin else f" (only super-admins may go lower, down to {THRESHOLD_MINIMUM:.2f})"
            raise ValidationError(f"The threshold is between {floor:.2f} and 1.00{who}.")
    if "allowed_domains" in changes:
        domains = []
        for raw in changes["allowed_domains"]:
            domain = str(raw).strip().lower().removeprefix("https://").removeprefix("http://").removeprefix("www.")
            domain = domain.split("/")[0]
            if not domain:
                continue
            if not _DOMAIN_NAME.fullmatch(domain):
                raise ValidationError(f"{str(raw)[:100]!r} is not a domain name (like example.com).")
            domains.append(domain)
        changes["allowed_domains"] = sorted(set(domains))[:200]
    if "screen_provider" in changes and changes["screen_provider"] is not None:
        if changes["screen_provider"].workspace_id != workspace.pk or changes["screen_provider"].user_id is not None:
            raise ValidationError("Choose one of this workspace's shared LLM providers.")
    if "blacklist" in changes:
        changes["blacklist"] = [str(p).strip()[:200] for p in changes["blacklist"] if str(p).strip()][:500]
    if "business_hours_policy" in changes and changes["business_hours_policy"] not in BusinessHoursPolicy.values:
        raise ValidationError("Unknown business hours policy.")
    if "business_days" in changes and not all(isinstance(d, int) and 0 <= d <= 6 for d in changes["business_days"]):
        raise ValidationError("Business days are 0 (Monday) to 6 (Sunday).")
    for name in ("opens_at", "closes_at"):
        if name in changes and not isinstance(changes[name], time):
            raise ValidationError(f"{name} must be a time of day.")
    if "debounce_seconds" in changes and not 0 <= int(changes["debounce_seconds"]) <= 120:
        raise ValidationError("The debounce is 0 to 120 seconds.")
    # None puts back the default (every admin), as undoing a change made from the default does.
    if "escalation_emails" in changes and changes["escalation_emails"] is not None:
        members = {e.lower(): e for e in Membership.objects.filter(workspace=workspace)
                   .values_list("user__email", flat=True)}
        wanted = [str(e).strip().lower() for e in changes["escalation_emails"] if str(e).strip()]
        strangers = sorted(e for e in wanted if e not in members)
        if strangers:
            raise ValidationError(f"Not members of this workspace: {', '.join(strangers)}.")
        changes["escalation_emails"] = sorted({members[e] for e in wanted})
    before = {name: getattr(cfg, name) for name in changes}
    for name, value in changes.items():
        setattr(cfg, name, value)
    cfg.updated_by = actor
    cfg.save()
    audit_event_record(verb="sidekick.settings_updated", workspace=workspace, actor=actor, target=cfg,
                       data={name: {"from": str(before[name]), "to": str(value)} for name, value in changes.items()
                             if before[name] != value})
    return cfg


# --- Follow-ups -----------------------------------------------------------------------------------

def follow_up_send(*, thread: Thread, actor, review: bool = False) -> ReplyDraft:
    """Draft a follow-up for a quiet thread (see `selectors.contacts_needing_follow_up`) and send it.

    Sent by Sidekick (logged `follow_up_sent`) when ``review`` is False, the 24 h window is open and
    the overseer's hard rules and reviewer approve; otherwise saved as a draft for the setter
    (`draft_approve` / `draft_edit_and_send`), e.g. when only a setter may answer with the
    HUMAN_AGENT tag. Makes LLM calls: call it outside a transaction.
    """
    from conversations.pipeline.follow_up import follow_up_run

    return follow_up_run(thread=thread, actor=actor, review=review)


FOLLOW_UP_STEPS_MAX = 6
STEP_DELAY_MAX_HOURS = 167  # the Human Agent tag's 7 days from the contact's message, less the sweep's margin


@transaction.atomic
def follow_up_steps_replace(*, workspace, actor, steps: list[dict]) -> list[FollowUpStep]:
    """Set the workspace's follow-up sequence (admins): `steps` in order, each {delay_hours,
    use_human_agent_tag, enabled}. Positions are renumbered 1..n. Raises ValidationError.

    Delays count from the business's unanswered message, so they must grow step by step; a step 24 h
    or more after it is past Meta's window for Sidekick and must be a Human Agent step (a setter sends
    it), which the workspace must allow. Runs already recorded keep their numbers; a sequence under way
    continues with the steps after the last position it ran.
    """
    _require_admin(workspace=workspace, actor=actor)
    cfg = SidekickSettings.objects.select_for_update().get(pk=sidekick_settings_ensure(workspace=workspace).pk)
    if len(steps) > FOLLOW_UP_STEPS_MAX:
        raise ValidationError(f"At most {FOLLOW_UP_STEPS_MAX} follow-up steps.")
    previous = 0
    rows = []
    for position, step in enumerate(steps, start=1):
        delay, tag, enabled = int(step["delay_hours"]), bool(step.get("use_human_agent_tag")), bool(step.get("enabled", True))
        if not 1 <= delay <= STEP_DELAY_MAX_HOURS:
            raise ValidationError(f"Step {position}: the delay is 1 to {STEP_DELAY_MAX_HOURS} hours (7 days).")
        if delay <= previous:
            raise ValidationError(f"Step {position} must come later than step {position - 1} "
                                  f"(both count from the business's last message).")
        # A switched-off Human Agent step may stay (the default sequence has one): it never runs.
        if tag and enabled and not cfg.use_human_agent_tag:
            raise ValidationError(f"Step {position}: allow Meta's HUMAN_AGENT tag in the settings first "
                                  "(Messenger Pages with the Human Agent permission).")
        if delay >= 24 and not tag:
            raise ValidationError(f"Step {position}: {delay} hours after the business's message the 24-hour window "
                                  "has closed for Sidekick; make it a Human Agent step (a setter sends it) or "
                                  "shorten it.")
        previous = delay
        rows.append(FollowUpStep(workspace=workspace, position=position, delay_hours=delay, use_human_agent_tag=tag,
                                 enabled=enabled))
    before = [(s.delay_hours, s.use_human_agent_tag, s.enabled)
              for s in FollowUpStep.objects.filter(workspace=workspace).order_by("position")]
    FollowUpStep.objects.filter(workspace=workspace).delete()
    FollowUpStep.objects.bulk_create(rows)
    after = [(s.delay_hours, s.use_human_agent_tag, s.enabled) for s in rows]
    if before != after:
        audit_event_record(verb="sidekick.follow_up_steps_updated", workspace=workspace, actor=actor, target=cfg,
                           data={"from": [list(b) for b in before], "to": [list(a) for a in after]})
    return rows
