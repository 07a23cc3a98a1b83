"""Writes for the assistant: asking, stopping, retrying, archiving, and the user's own key.

Asking stores the question and an empty `streaming` answer in one transaction, then enqueues the
model call on the `llm` queue (assistant.tasks): no model call ever runs inside a web request. When
the broker cannot take the job the answer is marked failed at once with a clear message, and the
question stays stored; "Retry" enqueues it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from assistant.context import Context
from assistant.models import AssistantConversation, AssistantMessage, MessageStatus, Role
from assistant.selectors import provider_for, token_budget
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
