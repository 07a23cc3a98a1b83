"""Erasing assistant data (GDPR): one user's AI data, or the conversations about an erased contact.

Deleting a conversation deletes its messages (and whatever hangs off a message, such as suggestions,
by cascade). The usage ledger is not this app's: `integrations.erasure.llm_usage_pseudonymise`.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from assistant.models import AssistantConversation, AssistantMessage


def assistant_user_data_erase(*, workspace, user) -> dict[str, int]:
    """Delete the user's conversations and messages in the workspace. Precondition: inside a transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    conversations = AssistantConversation.objects.filter(workspace=workspace, user=user)
    messages = AssistantMessage.objects.filter(conversation__in=conversations).delete()[0]
    return {"assistant_messages": messages, "assistant_conversations": conversations.delete()[0]}


def conversations_about_contact(*, workspace, contact_id: int, thread_ids: list[int]):
    """Every user's conversations opened on the contact or one of its threads (they quote its messages)."""
    about = Q(context__contact_id=contact_id)
    if thread_ids:
        about |= Q(context__thread_id__in=thread_ids)
    return AssistantConversation.objects.filter(about, workspace=workspace)


def assistant_contact_erase(*, workspace, contact_id: int, thread_ids: list[int]) -> dict[str, int]:
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    conversations = conversations_about_contact(workspace=workspace, contact_id=contact_id, thread_ids=thread_ids)
    messages = AssistantMessage.objects.filter(conversation__in=conversations).delete()[0]
    return {"assistant_messages_about": messages, "assistant_conversations_about": conversations.delete()[0]}
