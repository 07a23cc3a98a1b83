"""Hooks for the reply engine and escalations (later issues connect receivers here).

Both are sent after the transaction that caused them commits.
"""

from django.dispatch import Signal

# A new inbound message (not a duplicate, not deleted) was stored. kwargs: message_id.
inbound_message_received = Signal()

# Sidekick could not act on a thread and flagged it for a human. kwargs: thread_id, reason, message_id.
escalation_needed = Signal()
