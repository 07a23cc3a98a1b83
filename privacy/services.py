"""Writes for data-subject requests: create (and enqueue), run (claim, export or erase, settle), sweep.

A request row is the durable job: the task only carries its id, claims it with a conditional update,
and a sweeper re-enqueues what the broker lost or a dead worker left running. An erasure is one
transaction with its "done" mark, so a request is never done unless everything went; a failure rolls
back and leaves the request failed with a reason that holds no personal data.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from contacts.models import Contact
from privacy.erasure import contact_erase_everywhere, user_ai_data_erase
from privacy.export import CONTACT_TABLES, USER_TABLES, export_write
from privacy.models import EXPORT_LIFETIME, Kind, PrivacyRequest, Status, Subject
from privacy.subjects import ContactSubject, UserSubject
from sidekick_project.enqueue import task_enqueue_on_commit

logger = logging.getLogger(__name__)

STALE_RUNNING = timedelta(minutes=30)  # longer than the task's time limit: its worker is gone
LOST_PENDING = timedelta(minutes=2)


class PrivacyError(Exception):
    """A reason we write ourselves, safe to show and store (no personal data)."""


def _enqueue(request: PrivacyRequest) -> None:
    from privacy.tasks import privacy_request_process

    task_enqueue_on_commit(privacy_request_process, args=[request.pk])


def _open_duplicate(**lookup) -> bool:
    return PrivacyRequest.objects.filter(status__in=[Status.PENDING, Status.RUNNING], **lookup).exists()


@transaction.atomic
def privacy_request_user_ai(*, workspace, user, kind: str) -> PrivacyRequest:
    """A member's request about their own AI data in this workspace (nobody asks for someone else's)."""
    if kind not in Kind.values:
        raise ValidationError("Unknown request kind.")
    if _open_duplicate(workspace=workspace, kind=kind, subject=Subject.USER_AI, subject_user=user):
        raise ValidationError("The same request is already being worked on.")
    request = PrivacyRequest.objects.create(workspace=workspace, kind=kind, subject=Subject.USER_AI,
                                            subject_user=user, requested_by=user)
    audit_event_record(verb=f"privacy.{kind}_requested", workspace=workspace, actor=user, target=request,
                       data={"subject": Subject.USER_AI})
    _enqueue(request)
    return request


@transaction.atomic
def privacy_request_contact(*, workspace, contact: Contact, kind: str, actor) -> PrivacyRequest:
    """An admin's request about a contact of this workspace (export or erasure)."""
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only admins handle contacts' requests.")
    if contact.workspace_id != workspace.pk:
        raise PermissionDenied("Not a contact of this workspace.")
    if kind not in Kind.values:
        raise ValidationError("Unknown request kind.")
    if _open_duplicate(workspace=workspace, kind=kind, subject=Subject.CONTACT, subject_contact_ref=contact.pk):
        raise ValidationError("The same request is already being worked on.")
    request = PrivacyRequest.objects.create(workspace=workspace, kind=kind, subject=Subject.CONTACT,
                                            subject_contact=contact, subject_contact_ref=contact.pk,
                                            requested_by=actor)
    audit_event_record(verb=f"privacy.{kind}_requested", workspace=workspace, actor=actor, target=request,
                       data={"subject": Subject.CONTACT, "contact": contact.pk})
    _enqueue(request)
    return request


def _claim(request_id: int) -> PrivacyRequest | None:
    claimed = PrivacyRequest.objects.filter(pk=request_id, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=timezone.now(), error="")
    if not claimed:
        return None
    return PrivacyRequest.objects.select_related("workspace", "subject_user", "requested_by").get(pk=request_id)


def _erase(request: PrivacyRequest) -> None:
    with transaction.atomic():
        if request.subject == Subject.CONTACT:
            contact = (Contact.objects.select_for_update().select_related("channel")
                       .filter(workspace=request.workspace, pk=request.subject_contact_ref).first())
            if contact is None:
                raise PrivacyError("The contact no longer exists (already erased?).")
            counts = contact_erase_everywhere(workspace=request.workspace, contact=contact,
                                              actor=request.requested_by, request_id=request.pk)
            earlier = Q(subject=Subject.CONTACT, subject_contact_ref=request.subject_contact_ref)
        else:
            User.objects.select_for_update().filter(pk=request.subject_user_id).exists()  # see _subject_still_there
            counts = user_ai_data_erase(workspace=request.workspace, user=request.subject_user,
                                        actor=request.requested_by, request_id=request.pk)
            earlier = Q(subject=Subject.USER_AI, subject_user=request.subject_user)
        _exports_discard(PrivacyRequest.objects.filter(earlier, workspace=request.workspace, kind=Kind.EXPORT))
        done = PrivacyRequest.objects.filter(pk=request.pk, status=Status.RUNNING).update(
            status=Status.DONE, rows=counts, completed_at=timezone.now())
        if not done:
            raise PrivacyError("The request was no longer running.")  # rolls the erasure back


def _export(request: PrivacyRequest) -> None:
    if request.subject == Subject.CONTACT:
        contact = (Contact.objects.select_related("channel")
                   .filter(workspace=request.workspace, pk=request.subject_contact_ref).first())
        if contact is None:
            raise PrivacyError("The contact no longer exists (erased?).")
        subject = ContactSubject.load(workspace=request.workspace, contact=contact)
        tables, title, name = CONTACT_TABLES, f"Everything Sidekick holds about contact #{contact.pk}", "contact"
    else:
        subject = UserSubject(workspace=request.workspace, user=request.subject_user)
        tables, title, name = USER_TABLES, "Your AI data in Sidekick", "ai-data"
    archive, counts = export_write(tables=tables, subject=subject, title=title)
    try:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        request.file.save(f"{name}-{request.pk}-{stamp}.zip", File(archive), save=False)
    finally:
        archive.close()
    with transaction.atomic():
        # An erasure of the same subject that committed while this export was reading would leave a copy
        # of erased data behind: the subject's row is locked by both, and an erasure since the start wins.
        still_there = _subject_still_there(request)
        saved = still_there and PrivacyRequest.objects.filter(pk=request.pk, status=Status.RUNNING).update(
            status=Status.DONE, rows=counts, file=request.file.name, completed_at=timezone.now(),
            file_expires_at=timezone.now() + EXPORT_LIFETIME)
    if not saved:
        request.file.storage.delete(request.file.name)  # referenced by no row
        if not still_there:
            raise PrivacyError("The subject was erased while the export ran; the file was discarded.")


def _subject_still_there(request: PrivacyRequest) -> bool:
    """Lock the subject's row (as the erasure does) and tell whether it was erased since the request began."""
    if request.subject == Subject.CONTACT:
        return Contact.objects.select_for_update().filter(workspace=request.workspace,
                                                          pk=request.subject_contact_ref).exists()
    User.objects.select_for_update().filter(pk=request.subject_user_id).exists()
    return not PrivacyRequest.objects.filter(
        workspace=request.workspace, kind=Kind.ERASURE, subject=Subject.USER_AI, subject_user=request.subject_user,
        status=Status.DONE, completed_at__gte=request.started_at).exists()


def privacy_request_run(*, request_id: int) -> str:
    """Claim the request and carry it out; a duplicate or stale task finds nothing to claim."""
    request = _claim(request_id)
    if request is None:
        return "not pending"
    try:
        (_erase if request.kind == Kind.ERASURE else _export)(request)
    except Exception as exc:  # noqa: BLE001 - any failure must leave the request failed, not running
        logger.exception("privacy request %s failed", request_id)
        reason = str(exc) if isinstance(exc, PrivacyError) else f"{type(exc).__name__} (see the worker log)"
        PrivacyRequest.objects.filter(pk=request_id, status=Status.RUNNING).update(
            status=Status.FAILED, error=reason[:300], completed_at=None)
        return "failed"
    return "done"


def privacy_request_retry(*, request: PrivacyRequest, actor) -> bool:
    """Put a failed request back in the queue (its requester or an admin)."""
    if request.requested_by_id != getattr(actor, "pk", None):
        require_workspace_admin(workspace_id=request.workspace_id, actor=actor)
    changed = PrivacyRequest.objects.filter(pk=request.pk, status=Status.FAILED).update(
        status=Status.PENDING, error="")
    if changed:
        _enqueue(request)
    return bool(changed)


def _exports_discard(requests) -> int:
    """Delete the files of these export requests (after the commit: a rollback keeps them)."""
    names = [name for name in requests.exclude(file="").values_list("file", flat=True)]
    if not names:
        return 0
    requests.exclude(file="").update(file="", file_expires_at=None)
    storage = PrivacyRequest._meta.get_field("file").storage

    def remove():
        for name in names:
            storage.delete(name)

    transaction.on_commit(remove)
    return len(names)


def privacy_sweep(*, now=None) -> dict[str, int]:
    """Periodic: re-enqueue lost or abandoned requests; delete export files past their expiry."""
    now = now or timezone.now()
    revived = PrivacyRequest.objects.filter(status=Status.RUNNING, started_at__lt=now - STALE_RUNNING).update(
        status=Status.PENDING)
    lost = list(PrivacyRequest.objects.filter(status=Status.PENDING, created_at__lt=now - LOST_PENDING))
    for request in lost:
        _enqueue(request)
    with transaction.atomic():
        expired = _exports_discard(PrivacyRequest.objects.filter(file_expires_at__lt=now))
    return {"revived": revived, "enqueued": len(lost), "expired": expired}
