"""Contacts: list and detail. Setters may change the stage and record booking outcomes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
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


def _extras_context(request, contact: Contact) -> dict:
    history = selectors.contact_state_history(contact=contact)
    strategy, strategy_steps = selectors.follow_up_strategy_for(contact=contact)
    return {
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
