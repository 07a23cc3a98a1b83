"""The data-subject requests page: members ask for their own AI data (export or erasure); admins also
handle contacts' requests and see every request with its 72-hour deadline. Downloads go through a view
that checks access each time; export files are never public media."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required_or_404, scoped_or_404, workspace_required
from privacy import selectors, services
from privacy.forms import ContactRequestForm, MyDataForm
from privacy.models import Subject


def _may_download(request, row) -> bool:
    """A user's AI data is theirs alone (their conversations are private even to admins): only the
    subject downloads it; admins see that the request exists and when it is due. A contact's export
    is for admins only (also one made by an admin since turned setter)."""
    if not row.downloadable:
        return False
    if row.subject == Subject.USER_AI:
        return row.subject_user_id == request.user.pk
    return request.access.is_admin


def _page(request, *, my_form=None, contact_form=None, status=200):
    rows = list(selectors.privacy_requests_for(workspace=request.workspace, user=request.user,
                                               is_admin=request.access.is_admin)[:200])
    for row in rows:
        row.may_download = _may_download(request, row)
    return render(request, "privacy/requests.html", {
        "requests": rows, "my_form": my_form or MyDataForm(),
        "contact_form": contact_form or ContactRequestForm() if request.access.is_admin else None,
    }, status=status)


def _back(request):
    return redirect("privacy:requests", workspace_slug=request.workspace.slug)


@workspace_required
def requests_page(request):
    return _page(request)


@workspace_required
@require_POST
def my_data(request):
    form = MyDataForm(request.POST)
    if not form.is_valid():
        return _page(request, my_form=form, status=400)
    try:
        services.privacy_request_user_ai(workspace=request.workspace, user=request.user,
                                         kind=form.cleaned_data["kind"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request)
    messages.success(request, "Request recorded; it runs in the background (refresh to see its status).")
    return _back(request)


@admin_required_or_404
@require_POST
def contact_request(request):
    form = ContactRequestForm(request.POST)
    if not form.is_valid():
        return _page(request, contact_form=form, status=400)
    contact = selectors.contact_find(workspace=request.workspace, ref=form.cleaned_data["contact"])
    if contact is None:
        form.add_error("contact", "No contact of this workspace matches.")
        return _page(request, contact_form=form, status=400)
    try:
        services.privacy_request_contact(workspace=request.workspace, contact=contact,
                                         kind=form.cleaned_data["kind"], actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request)
    messages.success(request, f"Request recorded for contact #{contact.pk}; it runs in the background.")
    return _back(request)


def _request(request, request_id):
    return scoped_or_404(selectors.privacy_request_get, request, user=request.user,
                         is_admin=request.access.is_admin, request_id=request_id, what="request")


@workspace_required
def download(request, request_id):
    row = _request(request, request_id)
    if not _may_download(request, row):
        raise Http404("No file to download (not ready, or expired)")
    return FileResponse(row.file.open("rb"), as_attachment=True, filename=row.file.name.rsplit("/", 1)[-1],
                        content_type="application/zip")


@workspace_required
@require_POST
def retry(request, request_id):
    row = _request(request, request_id)
    services.privacy_request_retry(request=row, actor=request.user)
    return _back(request)
