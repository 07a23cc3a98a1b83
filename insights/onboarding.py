"""The setup checklist on the overview: each step is done when the data says so, never a stored flag.

One query: a row of EXISTS subqueries on the workspace, so the overview stays as fast as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from accounts.models import Invitation, Membership, Role, Workspace
from conversations.models import PromptRevision
from integrations.llm.models import LLMProvider
from integrations.models import Channel
from knowledge.models import Document, FaqEntry


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    hint: str
    url: str
    done: bool
    extra_url: str = ""
    extra_label: str = ""


def onboarding_steps(*, workspace: Workspace) -> list[Step]:
    """The five steps in the order a new workspace does them, each ticked from what exists.

    "Review the prompt" is done once a prompt revision is saved (saving it unchanged counts): viewing
    alone leaves no trace worth a write on every page view.
    """
    ws = OuterRef("pk")
    row = Workspace.objects.filter(pk=workspace.pk).annotate(
        has_channel=Exists(Channel.objects.filter(workspace=ws)),
        has_provider=Exists(LLMProvider.objects.filter(workspace=ws, is_default=True)),
        has_document=Exists(Document.objects.filter(workspace=ws)),
        has_faq=Exists(FaqEntry.objects.filter(workspace=ws, is_active=True)),
        has_prompt=Exists(PromptRevision.objects.filter(workspace=ws)),
        has_setter=Exists(Membership.objects.filter(workspace=ws, role=Role.SETTER)),
        has_invitation=Exists(Invitation.objects.filter(workspace=ws, accepted_at__isnull=True, revoked_at__isnull=True)
                              .filter(~Q(role=Role.ADMIN))),
    ).values("has_channel", "has_provider", "has_document", "has_faq", "has_prompt", "has_setter",
             "has_invitation").get()
    slug = workspace.slug
    sandbox = settings.META_SANDBOX
    return [
        Step("channel", "Connect a channel",
             "Connect your Instagram account or Facebook Page" + (", or try Sidekick in the sandbox first." if sandbox
                                                                   else "."),
             reverse("integrations:channels", args=[slug]), row["has_channel"],
             extra_url=reverse("conversations:sandbox", args=[slug]) if sandbox else "",
             extra_label="Try the sandbox" if sandbox else ""),
        Step("provider", "Add an LLM provider", "Sidekick needs a model to write replies.",
             reverse("integrations:llm_providers", args=[slug]), row["has_provider"]),
        Step("knowledge", "Add knowledge", "Upload a document or add FAQ entries, so answers rest on your facts.",
             reverse("knowledge:home", args=[slug]), row["has_document"] or row["has_faq"]),
        Step("prompt", "Review the prompt", "Read how Sidekick is told to write and save it (even unchanged).",
             reverse("conversations:prompt", args=[slug]), row["has_prompt"]),
        Step("setter", "Invite a setter", "Invite the person who answers conversations with Sidekick.",
             reverse("accounts:members", args=[slug]), row["has_setter"] or row["has_invitation"]),
    ]
