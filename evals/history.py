"""History: every revision of the prompt and of each knowledge asset, with who, when and why (the
proposal that made it, if any), and restoring any of them, the earliest included.

Revisions are never edited: a restore is a new revision copying the chosen one (through the owning
apps' restore services, which audit it), so nothing is ever lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist, ValidationError

from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import PromptRevision
from evals.models import Proposal, ProposalKind
from knowledge import selectors as knowledge_selectors
from knowledge import services as knowledge_services
from knowledge.models import DocumentRevision, FaqRevision

PER_KIND = 200  # the newest revisions of each kind shown
KINDS = {ProposalKind.PROMPT: "Prompt", ProposalKind.FAQ: "FAQ", ProposalKind.DOCUMENT: "Document"}
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class HistoryEntry:
    kind: str  # prompt | faq | document
    revision_id: int
    number: int
    asset: str  # which prompt, entry or document, for a person
    asset_id: int | None
    author: str
    created_at: datetime
    why: str  # the note, the action, what it restored
    excerpt: str
    current: bool
    restorable: bool
    proposal_id: int | None = None
    proposal_title: str = ""

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"


def _proposal_links(workspace) -> dict[tuple, tuple[int, str]]:
    """(kind, key) → (proposal id, title) for every revision an applied proposal made, from what its
    change set's operation produced."""
    links = {}
    for pk, title, kind, result in (Proposal.objects.filter(workspace=workspace, change_set__isnull=False)
                                    .exclude(result={}).values_list("pk", "title", "kind", "result")):
        if kind == ProposalKind.FAQ:
            key = (result.get("faq_id"), result.get("revision_number"))
        else:
            key = result.get("revision_id")
        links[(kind, key)] = (pk, title)
    return links


def _prompt_entries(workspace, links) -> list[HistoryEntry]:
    revisions = list(PromptRevision.objects.filter(workspace=workspace).select_related("author", "restored_from")
                     .order_by("-number")[:PER_KIND])
    entries = []
    for index, revision in enumerate(revisions):
        link = links.get((ProposalKind.PROMPT, revision.pk))
        why = revision.note or (f"Restored revision {revision.restored_from.number}" if revision.restored_from else "")
        entries.append(HistoryEntry(
            kind=ProposalKind.PROMPT, revision_id=revision.pk, number=revision.number, asset="System prompt",
            asset_id=None, author=revision.author.email if revision.author else "", created_at=revision.created_at,
            why=why, excerpt=_excerpt(revision.text), current=index == 0, restorable=index != 0,
            proposal_id=link[0] if link else None, proposal_title=link[1] if link else ""))
    return entries


def _faq_entries(workspace, links) -> list[HistoryEntry]:
    revisions = (FaqRevision.objects.filter(faq__workspace=workspace)
                 .select_related("faq", "created_by", "restored_from").order_by("-created_at", "-id")[:PER_KIND])
    entries = []
    for revision in revisions:
        link = links.get((ProposalKind.FAQ, (revision.faq_id, revision.number)))
        why = revision.get_action_display()
        if revision.restored_from:
            why += f" (revision {revision.restored_from.number})"
        current = revision.number == revision.faq.revision_number
        entries.append(HistoryEntry(
            kind=ProposalKind.FAQ, revision_id=revision.pk, number=revision.number,
            asset=f"FAQ “{_excerpt(revision.faq.question)[:80]}”", asset_id=revision.faq_id,
            author=revision.created_by.email if revision.created_by else "", created_at=revision.created_at,
            why=why, excerpt=_excerpt(f"{revision.question} — {revision.answer}"), current=current,
            restorable=not current, proposal_id=link[0] if link else None, proposal_title=link[1] if link else ""))
    return entries


def _document_entries(workspace, links) -> list[HistoryEntry]:
    revisions = (DocumentRevision.objects.filter(document__workspace=workspace)
                 .select_related("document", "created_by", "restored_from").defer("content")
                 .order_by("-created_at", "-id")[:PER_KIND])
    entries = []
    for revision in revisions:
        link = links.get((ProposalKind.DOCUMENT, revision.pk))
        why = f"Restored revision {revision.restored_from.number}" if revision.restored_from else "Uploaded"
        if revision.status == "failed":
            why += f" — not indexed: {revision.error}"
        current = revision.pk == revision.document.indexed_revision_id
        entries.append(HistoryEntry(
            kind=ProposalKind.DOCUMENT, revision_id=revision.pk, number=revision.number,
            asset=f"Document “{revision.document.title[:80]}”", asset_id=revision.document_id,
            author=revision.created_by.email if revision.created_by else "", created_at=revision.created_at,
            why=why, excerpt=f"{revision.filename} · {revision.size} bytes", current=current,
            restorable=not current and bool(revision.sha256), proposal_id=link[0] if link else None,
            proposal_title=link[1] if link else ""))
    return entries


def history_entries(*, workspace, kind: str = "") -> list[HistoryEntry]:
    """The revisions of `kind` (prompt, faq, document; "" for all), newest first."""
    links = _proposal_links(workspace)
    builders = {ProposalKind.PROMPT: _prompt_entries, ProposalKind.FAQ: _faq_entries,
                ProposalKind.DOCUMENT: _document_entries}
    chosen = [builders[kind]] if kind in builders else list(builders.values())
    entries = [entry for build in chosen for entry in build(workspace, links)]
    return sorted(entries, key=lambda e: (e.created_at, e.revision_id), reverse=True)


class RestoreRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def history_restore(*, workspace, kind: str, revision_id: int, actor) -> str:
    """Restore the workspace's revision as a new revision through the owning app's service; returns
    what happened, for a person. Raises ObjectDoesNotExist for another workspace's revision and
    RestoreRefused when the service refuses (a rejected upload has nothing to restore)."""
    try:
        if kind == ProposalKind.PROMPT:
            revision = conversation_selectors.prompt_revision_for_workspace(workspace=workspace, revision_id=revision_id)
            restored = conversation_services.prompt_revision_restore(revision=revision, actor=actor)
            return f"Prompt revision {revision.number} restored as revision {restored.number}."
        if kind == ProposalKind.FAQ:
            revision = knowledge_selectors.faq_revision_for_workspace(workspace=workspace, revision_id=revision_id)
            faq = knowledge_services.faq_revision_restore(revision=revision, actor=actor)
            return f"FAQ revision {revision.number} restored as revision {faq.revision_number}."
        if kind == ProposalKind.DOCUMENT:
            revision = knowledge_selectors.document_revision_for_workspace(workspace=workspace, revision_id=revision_id)
            copy = knowledge_services.document_revision_restore(revision=revision, actor=actor)
            return f"Document revision {revision.number} restored as revision {copy.number}; indexing it now."
    except ValidationError as exc:
        raise RestoreRefused(" ".join(exc.messages)) from exc
    raise ObjectDoesNotExist(f"unknown kind {kind!r}")
