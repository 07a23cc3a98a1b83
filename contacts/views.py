"""Contacts: list and detail. Setters may change the stage and record booking outcomes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from contacts import selectors, services
from contacts.forms import BookingForm, ContactFilterForm, StageForm
from contacts.models import Contact


@workspace_required
@vary_on_headers("HX-Request")
def contact_list(request):
    form = ContactFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    page = selectors.contacts_for_workspace(
        workspace=request.workspace, q=data.get("q", ""), stage=data.get("stage", ""),
        sort=data.get("sort") or "recent", page=data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "filter_query": query.urlencode()}
    # A history restore (back button after hx-push-url) needs the whole page, not the fragment.
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "contacts/list.html#contact-rows" if fragment else "contacts/list.html"
    return render(request, template, context)


def _detail_context(request, contact: Contact, booking_form=None) -> dict:
    return {
        "contact": contact,
        "stage_form": StageForm(initial={"stage": contact.stage}),
        "booking_form": booking_form or BookingForm(),
        "booking_events": selectors.contact_booking_events(contact=contact),
        "threads": selectors.contact_threads(contact=contact),
    }


def _people_context(request, contact: Contact) -> dict:
    """The person section: the linked contacts (everyone sees them) and, for admins, the suggestions."""
    is_admin = request.access.is_admin
    return {
        "contact": contact,
        "person_contacts": selectors.person_contacts(contact=contact),
        "link_suggestions": selectors.person_link_suggestions(contact=contact) if is_admin else [],
    }


def _extras_context(request, contact: Contact) -> dict:
    history = selectors.contact_state_history(contact=contact)
    strategy, strategy_steps = selectors.follow_up_strategy_for(contact=contact)
    return {
        **_people_context(request, contact),
        "strategy": strategy,
        "strategy_steps": strategy_steps,
        "contact": contact,
        "memories": selectors.lead_memory_for(contact=contact, viewer_role=request.access.role),
        "state_history": history,
        "score_chart": {"labels": [c.created_at.isoformat() for c in history],
                        "scores": [c.lead_score for c in history],
                        "stages": [c.get_stage_display() for c in history]},
    }


@workspace_required
def contact_detail(request, contact_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    context = _detail_context(request, contact) | _extras_context(request, contact)
    return render(request, "contacts/detail.html", context)


def _status_response(request, contact: Contact, booking_form=None):
    if not request.htmx:
        return redirect("contacts:detail", workspace_slug=request.workspace.slug, contact_id=contact.pk)
    return render(request, "contacts/detail.html#contact-status", _detail_context(request, contact, booking_form))


@workspace_required
@require_POST
def contact_stage(request, contact_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    form = StageForm(request.POST)
    if form.is_valid():
        if services.contact_stage_set(contact=contact, stage=form.cleaned_data["stage"], actor=request.user):
            messages.success(request, f"Stage set to {contact.get_stage_display()}.")
    else:
        messages.error(request, "Choose a stage.")
    return _status_response(request, contact)


@workspace_required
@require_POST
def contact_booking(request, contact_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    form = BookingForm(request.POST)
    if form.is_valid():
        contact, event = services.contact_booking_record(
            contact=contact, kind=form.cleaned_data["kind"], occurred_at=form.cleaned_data["occurred_at"],
            note=form.cleaned_data["note"], actor=request.user)
        messages.success(request, f"Recorded: {event.get_kind_display().lower()}.")
        form = None
    else:
        messages.error(request, "Choose booked or canceled and a valid time.")
    return _status_response(request, contact, form)


# --- Lead memory (admins edit; setters see it redacted) -------------------------------------------

def _memory_response(request, contact: Contact):
    if not request.htmx:
        return redirect("contacts:detail", workspace_slug=request.workspace.slug, contact_id=contact.pk)
    return render(request, "contacts/detail.html#lead-memory", _extras_context(request, contact))


@admin_required
@require_POST
def memory_edit(request, contact_id, memory_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    memory = scoped_or_404(selectors.lead_memory_for_contact, request, contact=contact, memory_id=memory_id, what="memory entry")
    try:
        services.lead_memory_update(memory=memory, text=request.POST.get("text", ""), actor=request.user)
        messages.success(request, "Memory updated.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _memory_response(request, contact)


@admin_required
@require_POST
def memory_delete(request, contact_id, memory_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    services.lead_memory_delete(memory=scoped_or_404(selectors.lead_memory_for_contact, request, contact=contact, memory_id=memory_id, what="memory entry"), actor=request.user)
    messages.success(request, "Memory deleted.")
    return _memory_response(request, contact)


# --- People: link contacts of several channels as one person (admins; setters see the links) ------

def _people_response(request, contact: Contact):
    if not request.htmx:
        return redirect("contacts:detail", workspace_slug=request.workspace.slug, contact_id=contact.pk)
    contact = selectors.contact_for_workspace(workspace=request.workspace, contact_id=contact.pk)
    return render(request, "contacts/detail.html#people", _people_context(request, contact))


@admin_required
@require_POST
def person_link(request, contact_id):
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    # Another workspace's contact is simply not found here (404); the service refuses such a link too.
    other = scoped_or_404(selectors.contact_for_workspace, request, contact_id=_int(request.POST.get("other")),
                          what="contact")
    try:
        services.contact_link_as_person(contact=contact, other=other, actor=request.user)
        messages.success(request, f"Linked with {other} as one person.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _people_response(request, contact)


@admin_required
@require_POST
def person_unlink(request, contact_id):
    """Take this contact (or, with `other`, one of its linked contacts) out of the person."""
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    target = contact
    if request.POST.get("other"):
        target = scoped_or_404(selectors.contact_for_workspace, request, contact_id=_int(request.POST["other"]),
                               what="contact")
        if contact.person_id is None or target.person_id != contact.person_id:
            raise Http404("That contact is not linked with this one")
    if services.contact_unlink_person(contact=target, actor=request.user):
        messages.success(request, f"{target} is its own person again.")
    return _people_response(request, contact)


@admin_required
def person_search(request, contact_id):
    """Contacts to link with this one, by name or handle (the HTMX search box of the person section)."""
    contact = scoped_or_404(selectors.contact_for_workspace, request, contact_id=contact_id, what="contact")
    q = request.GET.get("q", "")[:200]
    found = {"contact": contact, "q": q, "candidates": selectors.person_link_candidates(contact=contact, q=q)}
    if request.htmx:
        return render(request, "contacts/detail.html#person-candidates", found)
    # Without JavaScript the search form reloads the contact page with the results.
    return render(request, "contacts/detail.html", _detail_context(request, contact) | _extras_context(request, contact)
                  | found)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such contact") from None
