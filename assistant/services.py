"""Writes for the assistant: asking, stopping, retrying, archiving, the user's own key, and suggestions
(asked for, applied through `changes` change sets, rejected, undone).

Asking stores the question and an empty `streaming` answer in one transaction, then enqueues the
model call on the `llm` queue (assistant.tasks): no model call ever runs inside a web request. When
the broker cannot take the job the answer is marked failed at once with a clear message, and the
question stays stored; "Retry" enqueues it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role as AccountRole
from assistant.context import Context
from assistant.models import (
    AssistantConversation,
    AssistantMessage,
    AssistantSuggestion,
    MessageStatus,
    Role,
    SuggestionStatus,
    SuggestionType,
)
from assistant.selectors import provider_for, token_budget
from assistant.stream import answer_end_publish, answer_stream_reset
from changes.models import Source
from changes.services import OperationSpec, change_set_apply, change_set_preview, change_set_undo
from contacts.selectors import contact_for_workspace
from conversations.models import DraftKind
from conversations.selectors import contact_latest_thread, thread_for_workspace
from integrations.llm.models import LLMProvider
from integrations.llm.services import ProviderTestResult, llm_provider_save, llm_provider_test
from sidekick_project.enqueue import task_enqueue

log = logging.getLogger(__name__)

MAX_QUESTION = 4000
ANSWER_TASK = "assistant.tasks.assistant_answer"
UNAVAILABLE = ("The assistant is unavailable right now (the job queue cannot be reached). Your message is "
               "saved; press Retry in a moment.")
NO_PROVIDER = ("No language model is set up for you: ask an admin to add one under Settings → LLM "
               "providers, or add your own key on the assistant page.")


class AskRefused(Exception):
    """Nothing was stored or called; `message` says why (shown to the user)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Asked:
    conversation: AssistantConversation
    question: AssistantMessage
    answer: AssistantMessage
    enqueued: bool


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 80 else line[:79].rstrip() + "…"


def assistant_ask(*, workspace, user, role: str, text: str, context: Context | None = None,
                  conversation: AssistantConversation | None = None) -> Asked:
    """Store the question and a streaming answer, enqueue the answer. Raises AskRefused (no provider,
    token limit reached, empty or too long) before storing anything; the caller keeps the text."""
    text = (text or "").strip()
    if not text:
        raise AskRefused("Type a question first.")
    if len(text) > MAX_QUESTION:
        raise AskRefused(f"That is {len(text):,} characters; the assistant takes up to {MAX_QUESTION:,}.")
    provider = provider_for(workspace=workspace, user=user)
    if provider is None:
        raise AskRefused(NO_PROVIDER)
    budget = token_budget(workspace=workspace, user=user, role=role)
    if budget.exhausted:
        resets = timezone.localtime(budget.resets_at)
        raise AskRefused(f"You have used your assistant tokens ({budget.used_today:,} today, "
                         f"{budget.used_month:,} this month). The limit resets on {resets:%A %d %B at %H:%M}.")
    with transaction.atomic():
        if conversation is None:
            context = context or Context("general", {"label": "General"})
            conversation = AssistantConversation.objects.create(
                workspace=workspace, user=user, title=_title_from(text), context_type=context.context_type,
                context=context.snapshot, provider=provider, provider_label=str(provider)[:250])
        else:
            conversation.provider, conversation.provider_label = provider, str(provider)[:250]
            conversation.save(update_fields=["provider", "provider_label", "updated_at"])
        question = AssistantMessage.objects.create(conversation=conversation, role=Role.USER, content=text)
        answer = AssistantMessage.objects.create(conversation=conversation, role=Role.ASSISTANT,
                                                 status=MessageStatus.STREAMING, model=provider.model)
    enqueued = _enqueue(answer)
    return Asked(conversation, question, answer, enqueued)


def _enqueue(answer: AssistantMessage) -> bool:
    # The live stream starts empty: a retried answer's old pieces (or leftovers of a restored database's
    # ids) must not reach its readers.
    answer_stream_reset(message_id=answer.pk)
    if task_enqueue(ANSWER_TASK, args=[answer.pk], queue="llm"):
        return True
    AssistantMessage.objects.filter(pk=answer.pk, status=MessageStatus.STREAMING).update(
        status=MessageStatus.FAILED, error=UNAVAILABLE, updated_at=timezone.now())
    answer.refresh_from_db()
    return False


def assistant_retry(*, answer: AssistantMessage) -> bool:
    """Ask again for a failed or stopped answer (the question is already stored); False if the queue is
    still down. The previous partial text is replaced by the new answer."""
    updated = AssistantMessage.objects.filter(
        pk=answer.pk, role=Role.ASSISTANT, status__in=[MessageStatus.FAILED, MessageStatus.STOPPED],
    ).update(status=MessageStatus.STREAMING, content="", error="", stop_requested=False, updated_at=timezone.now())
    answer.refresh_from_db()
    return bool(updated) and _enqueue(answer)


# Past the answer task's time limit (180 s) with a margin: an answer "writing" with no write to its row
# for this long has no worker any more (it died, or the queue lost the job).
ANSWER_STALE_SECONDS = 240
INTERRUPTED = "The answer was interrupted (the assistant's worker stopped); what arrived is kept. Press Retry."


def answer_is_stale(answer: AssistantMessage, *, now=None) -> bool:
    """Whether a "writing" answer had no write for ANSWER_STALE_SECONDS (from the row in hand: no query)."""
    return (answer.status == MessageStatus.STREAMING
            and answer.updated_at < (now or timezone.now()) - timedelta(seconds=ANSWER_STALE_SECONDS))


def assistant_answers_fail_stale(*, message_id: int | None = None, now=None) -> int:
    """Mark answers lost with their worker failed, keeping what arrived; returns how many. Run by the beat
    (assistant.tasks.assistant_answers_sweep) and, for one message, when its reader polls it, so a lost
    answer never says "Thinking…" forever. The live stream's readers are told it ended."""
    cutoff = (now or timezone.now()) - timedelta(seconds=ANSWER_STALE_SECONDS)
    rows = AssistantMessage.objects.filter(role=Role.ASSISTANT, status=MessageStatus.STREAMING, updated_at__lt=cutoff)
    if message_id is not None:
        rows = rows.filter(pk=message_id)
    ids = list(rows.values_list("pk", flat=True)[:500])
    if not ids:
        return 0
    # The condition again in the UPDATE: a worker writing meanwhile keeps its answer.
    AssistantMessage.objects.filter(pk__in=ids, status=MessageStatus.STREAMING, updated_at__lt=cutoff).update(
        status=MessageStatus.FAILED, error=INTERRUPTED, updated_at=timezone.now())
    failed = list(AssistantMessage.objects.filter(pk__in=ids, status=MessageStatus.FAILED, error=INTERRUPTED)
                  .values_list("pk", flat=True))
    for pk in failed:
        answer_end_publish(message_id=pk, status=MessageStatus.FAILED)
    if failed:
        log.warning("assistant: %d answer(s) lost with their worker marked failed", len(failed))
    return len(failed)


def assistant_stop(*, answer: AssistantMessage) -> None:
    """Stop an answer being written. The task checks the flag at each write of the text (between
    chunks) and ends the answer `stopped` with what arrived; the reader's poll shows it. An answer with
    no text yet (no worker has picked the job up, or the queue lost it) is marked stopped at once."""
    rows = AssistantMessage.objects.filter(pk=answer.pk, status=MessageStatus.STREAMING)
    rows.update(stop_requested=True, updated_at=timezone.now())
    rows.filter(content="").update(status=MessageStatus.STOPPED)
    answer.refresh_from_db()


def conversation_archive(*, conversation: AssistantConversation, archived: bool = True) -> None:
    conversation.archived = archived
    conversation.save(update_fields=["archived", "updated_at"])


# --- the user's own key ------------------------------------------------------------------------------

def personal_key_save(*, workspace, user, kind: str, model: str, api_key: str | None, base_url: str = "",
                      api_version: str = "") -> LLMProvider:
    """The user's own provider in this workspace (one per user; an empty key keeps the stored one).

    The gateway's per-user override: encrypted at rest (EncryptedTextField), shown masked, audited.
    Raises ValidationError."""
    provider, _ = llm_provider_save(workspace=workspace, user=user, kind=kind, model=model, api_key=api_key,
                                    base_url=base_url, api_version=api_version, actor=user)
    return provider


def personal_key_delete(*, workspace, user) -> int:
    deleted, _ = LLMProvider.objects.filter(Q(workspace=workspace) & Q(user=user)).delete()
    return deleted


def personal_key_test(*, provider: LLMProvider) -> ProviderTestResult:
    """A tiny call through the gateway (integrations.llm.services.llm_provider_test)."""
    return llm_provider_test(provider=provider, timeout=10.0)


# --- suggestions: asked for by the user, applied only by the user's click ------------------------------

SUGGEST_TASK = "assistant.tasks.assistant_suggest"
SUGGEST_STALE_SECONDS = 150  # past the task's time limit: a request still "running" was lost


def suggestions_request(*, answer: AssistantMessage, role: str) -> bool:
    """Ask for suggestions on a finished answer (the "Suggest" button): marks the request running and
    enqueues it on the `llm` queue. Raises AskRefused (nothing fits this context and role, no provider,
    token limit reached, answer not finished); False when the queue cannot take it (marked failed)."""
    from assistant.suggest import RUNNING, suggestion_types

    conversation = answer.conversation
    if answer.role != Role.ASSISTANT or answer.status != MessageStatus.COMPLETE or not answer.content:
        raise AskRefused("Suggestions come from a finished answer.")
    if not suggestion_types(context_type=conversation.context_type, snapshot=conversation.context or {}, role=role):
        raise AskRefused("Nothing here can be suggested for your role.")
    if provider_for(workspace=conversation.workspace, user=conversation.user) is None:
        raise AskRefused(NO_PROVIDER)
    budget = token_budget(workspace=conversation.workspace, user=conversation.user, role=role)
    if budget.exhausted:
        resets = timezone.localtime(budget.resets_at)
        raise AskRefused(f"You have used your assistant tokens. The limit resets on {resets:%A %d %B at %H:%M}.")
    state = (answer.metadata or {}).get("suggest") or {}
    if answer.suggestions.exists():
        return True
    if state.get("status") == RUNNING and timezone.now().timestamp() - state.get("at", 0) < SUGGEST_STALE_SECONDS:
        return True  # a double click: one request (a job lost by the queue can be asked again later)
    _suggest_state(answer, RUNNING)
    if task_enqueue(SUGGEST_TASK, args=[answer.pk], queue="llm"):
        return True
    _suggest_state(answer, "failed", UNAVAILABLE)
    return False


def _suggest_state(answer: AssistantMessage, status: str, error: str = "") -> None:
    answer.metadata = {**(answer.metadata or {}),
                       "suggest": {"status": status, "error": error, "at": timezone.now().timestamp()}}
    answer.save(update_fields=["metadata", "updated_at"])


class SuggestionRefused(Exception):
    """Applying, rejecting or undoing did not happen; `message` says why (shown on the card)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def suggestion_allowed(*, suggestion: AssistantSuggestion, role: str) -> bool:
    """Whether this role may apply it (the card shows the button only then; apply checks again)."""
    from assistant.suggest import ADMIN_ONLY

    return suggestion.type not in ADMIN_ONLY or role == AccountRole.ADMIN


def _operation(suggestion: AssistantSuggestion) -> OperationSpec:
    """The change a suggestion makes, on its stored target (never one the model named)."""
    workspace = suggestion.workspace
    if suggestion.type == SuggestionType.REPLY:
        thread = thread_for_workspace(workspace=workspace, thread_id=suggestion.target_id or 0)
        return OperationSpec("conversation.draft", {"text": suggestion.content, "kind": DraftKind.REPLY}, thread.pk)
    if suggestion.type == SuggestionType.FOLLOW_UP:
        thread = contact_latest_thread(workspace=workspace, contact_id=suggestion.target_id or 0)
        return OperationSpec("conversation.draft", {"text": suggestion.content, "kind": DraftKind.FOLLOW_UP}, thread.pk)
    if suggestion.type == SuggestionType.STRATEGY:
        contact = contact_for_workspace(workspace=workspace, contact_id=suggestion.target_id or 0)
        return OperationSpec("contact.follow_up_strategy",
                             {"title": suggestion.title, "steps": suggestion.payload.get("steps") or []}, contact.pk)
    if suggestion.type == SuggestionType.FAQ:
        return OperationSpec("knowledge.faq", {"question": suggestion.payload.get("question") or suggestion.title,
                                               "answer": suggestion.content})
    if suggestion.type == SuggestionType.SAVED_REPLY:
        return OperationSpec("conversation.saved_reply", {"title": suggestion.title, "body": suggestion.content,
                                                          "shortcut": suggestion.payload.get("shortcut") or ""})
    return OperationSpec("prompt.revision", {"text": suggestion.content})


def suggestion_apply(*, suggestion: AssistantSuggestion, actor, role: str) -> AssistantSuggestion:
    """One click: a change set previewed and applied through `changes` (the owning apps' services).

    Claimed pending → accepted first, so a double click applies once. Raises PermissionDenied for a
    type the role may not apply (nothing claimed) and SuggestionRefused when the change is refused
    (the target is gone or moved, a service's own check): the suggestion is pending again, with the reason.
    """
    if not suggestion_allowed(suggestion=suggestion, role=role):
        raise PermissionDenied("Only workspace admins can apply this.")
    claimed = AssistantSuggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.PENDING).update(
        status=SuggestionStatus.ACCEPTED, error="", updated_at=timezone.now())
    if not claimed:
        suggestion.refresh_from_db()
        raise SuggestionRefused(f"This suggestion is already {suggestion.get_status_display().lower()}.")
    try:
        change_set = change_set_preview(workspace=suggestion.workspace, actor=actor, operations=[_operation(suggestion)],
                                        source=Source.ASSISTANT, title=f"Assistant: {suggestion.title}"[:200])
        change_set = change_set_apply(change_set=change_set, actor=actor)
    except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
        reason = (" ".join(exc.messages) if isinstance(exc, ValidationError)
                  else "Its conversation or contact is gone." if isinstance(exc, ObjectDoesNotExist) else str(exc))
        AssistantSuggestion.objects.filter(pk=suggestion.pk).update(
            status=SuggestionStatus.PENDING, error=reason[:500], updated_at=timezone.now())
        suggestion.refresh_from_db()
        if isinstance(exc, PermissionDenied):
            raise
        raise SuggestionRefused(reason) from exc
    result = change_set.operations.get().result
    AssistantSuggestion.objects.filter(pk=suggestion.pk).update(
        status=SuggestionStatus.APPLIED, change_set=change_set, result=result, updated_at=timezone.now())
    suggestion.refresh_from_db()
    return suggestion


def suggestion_reject(*, suggestion: AssistantSuggestion) -> AssistantSuggestion:
    if not AssistantSuggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.PENDING).update(
            status=SuggestionStatus.REJECTED, error="", updated_at=timezone.now()):
        suggestion.refresh_from_db()
        raise SuggestionRefused(f"This suggestion is already {suggestion.get_status_display().lower()}.")
    suggestion.refresh_from_db()
    return suggestion


def suggestion_undo(*, suggestion: AssistantSuggestion, actor, role: str) -> AssistantSuggestion:
    """Undo the change set the suggestion became. Refused (SuggestionRefused, nothing written) once its
    target moved on: the draft was sent or replaced, the entry, prompt or saved reply edited since."""
    if not suggestion_allowed(suggestion=suggestion, role=role):
        raise PermissionDenied("Only workspace admins can undo this.")
    if suggestion.status != SuggestionStatus.APPLIED or suggestion.change_set_id is None:
        raise SuggestionRefused("Only an applied suggestion can be undone.")
    try:
        change_set_undo(change_set=suggestion.change_set, actor=actor)
    except ValidationError as exc:  # ChangeConflict, ChangeSetStateError, a service's refusal
        AssistantSuggestion.objects.filter(pk=suggestion.pk).update(error=" ".join(exc.messages)[:500])
        suggestion.refresh_from_db()
        raise SuggestionRefused(" ".join(exc.messages)) from exc
    AssistantSuggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.APPLIED).update(
        status=SuggestionStatus.UNDONE, error="", updated_at=timezone.now())
    suggestion.refresh_from_db()
    return suggestion
