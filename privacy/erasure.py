"""Erasure, orchestrated: each app deletes or redacts its own rows (`<app>/erasure.py`), here in order
and inside one transaction, so a failure anywhere leaves everything as it was.

Order matters only for foreign keys and for the audit log: rows that point at the contact go before
it, and the audit entries are redacted last, just before the erasure's own entry (ids and counts, no
personal data) is written.
"""

from __future__ import annotations

from accounts.erasure import audit_events_redact
from accounts.services import audit_event_record
from assistant.erasure import assistant_contact_erase, assistant_user_data_erase
from changes.erasure import contact_change_sets_erase
from contacts.erasure import contact_erase
from contacts.models import Contact
from conversations.erasure import contact_conversations_erase
from evals.erasure import eval_cases_erase, proposals_contact_erase
from insights.erasure import report_excerpts_forget
from integrations.erasure import llm_usage_pseudonymise, sandbox_sends_erase, webhook_events_redact
from privacy.subjects import ContactSubject


def contact_erase_everywhere(*, workspace, contact: Contact, actor, request_id: int) -> dict[str, int]:
    """Precondition: inside a transaction, with the contact locked (SELECT ... FOR UPDATE)."""
    subject = ContactSubject.load(workspace=workspace, contact=contact)
    needles, audit_targets = subject.needles, subject.audit_targets
    counts: dict[str, int] = {}
    counts |= assistant_contact_erase(workspace=workspace, contact_id=contact.pk, thread_ids=subject.thread_ids)
    change_counts, change_set_ids = contact_change_sets_erase(
        workspace=workspace, contact_id=contact.pk, row_targets=subject.row_targets, needles=needles)
    counts |= change_counts
    audit_targets += [f"changes.changeset:{i}" for i in change_set_ids]
    counts["reports_excerpts_forgotten"] = report_excerpts_forget(workspace=workspace, message_ids=subject.message_ids)
    counts |= proposals_contact_erase(workspace=workspace, thread_ids=subject.thread_ids,
                                      message_ids=subject.message_ids)  # before the cases it reads go
    counts["eval_cases"] = eval_cases_erase(workspace=workspace, message_ids=subject.message_ids)
    counts["webhook_events_redacted"] = webhook_events_redact(account_id=contact.channel.account_id,
                                                              external_id=contact.external_id)
    counts["sandbox_sends"] = sandbox_sends_erase(channel_id=contact.channel_id, external_id=contact.external_id)
    counts |= contact_conversations_erase(workspace=workspace, contact_id=contact.pk)
    counts |= contact_erase(contact=contact)
    counts["audit_events_redacted"] = audit_events_redact(workspace=workspace, targets=audit_targets,
                                                          needles=needles)
    audit_event_record(verb="privacy.contact_erased", workspace=workspace, actor=actor,
                       target=f"contacts.contact:{contact.pk}",
                       data={"request": request_id, "rows": counts, "total": sum(counts.values())})
    return counts


def user_ai_data_erase(*, workspace, user, actor, request_id: int) -> dict[str, int]:
    """Precondition: inside a transaction. The usage ledger stays (quotas and costs remain true)."""
    counts = assistant_user_data_erase(workspace=workspace, user=user)
    counts["llm_usage_pseudonymised"] = llm_usage_pseudonymise(workspace_id=workspace.pk, user_id=user.pk)
    audit_event_record(verb="privacy.user_ai_data_erased", workspace=workspace, actor=actor,
                       target=f"accounts.user:{user.pk}",
                       data={"request": request_id, "rows": counts, "total": sum(counts.values())})
    return counts
