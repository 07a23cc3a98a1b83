"""Emails to the members a workspace chose (Settings → Sidekick), by default its admins, when Sidekick
escalates a thread."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from accounts.models import Membership, Role
from conversations.models import Escalation, SidekickSettings


def escalation_notify(*, escalation_id: int) -> int:
    """Send one email per chosen member who still belongs to the workspace. Returns how many."""
    escalation = (Escalation.objects.select_related("thread__contact", "workspace")
                  .filter(pk=escalation_id).first())
    if escalation is None:
        return 0
    chosen = SidekickSettings.objects.filter(workspace_id=escalation.workspace_id).values_list(
        "escalation_emails", flat=True).first()
    members = Membership.objects.filter(workspace_id=escalation.workspace_id)
    if chosen is None:
        # Nobody chose yet: the admins hear about it (an escalation nobody sees helps no one).
        recipients = list(members.filter(role=Role.ADMIN).values_list("user__email", flat=True))
    else:
        chosen = {email.lower() for email in chosen}
        # Someone removed from the workspace since the setting was saved gets nothing.
        recipients = [email for email in members.values_list("user__email", flat=True) if email.lower() in chosen]
    if not recipients:
        return 0
    workspace, contact = escalation.workspace, escalation.thread.contact
    link = settings.SITE_URL + reverse("conversations:thread", kwargs={
        "workspace_slug": workspace.slug, "thread_id": escalation.thread_id})
    subject = (f"[{workspace.name}] URGENT: {contact} needs a person now" if escalation.urgent
               else f"[{workspace.name}] {contact} needs a human")
    body = (f"Sidekick handed a conversation to the team.\n\nContact: {contact}\n"
            f"Why: {escalation.reason_text or escalation.reason_code}\n\nOpen the thread: {link}\n")
    return send_mass_mail([(subject, body, None, [email]) for email in recipients])
