"""The Sidekick panel beside a thread, the pending AI draft (approve / edit / discard), the details
behind any AI reply, the Sidekick page and its settings (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import selectors as account_selectors
from accounts.models import Role
from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from conversations import selectors, services
from conversations.forms import (
    AutoModeForm,
    DraftEditForm,
    FollowUpStepFormSet,
    SidekickSettingsForm,
    follow_up_steps_from,
)
from conversations.models import ReplyDraft, Thread
from conversations.sending import SendRefused
from integrations.llm.selectors import llm_providers_for_workspace


def panel_context(thread: Thread) -> dict:
    """What the Sidekick panel beside a thread shows (a constant number of queries)."""
    pending = selectors.thread_pending_draft(thread=thread)
    return {
        "thread": thread,
        "pending_draft": pending,
        "edit_form": DraftEditForm(initial={"text": (pending.final_text or pending.text)} if pending else None),
        # Whether "Approve and send" is offered, or why not (past 24 h only the setter's own words may go).
        "approve_state": selectors.draft_approve_state(thread=thread) if pending else None,
        "latest_draft": selectors.latest_scored_draft(workspace=thread.workspace, thread=thread),
        "thread_actions": selectors.thread_recent_actions(thread=thread),
        "follow_up": selectors.thread_follow_up_plan(thread=thread),
    }


@workspace_required
def draft_details(request, draft_id):
    """Why Sidekick wrote what it wrote: confidence and its parts, sources, overseer verdict, rule hits."""
    draft = scoped_or_404(selectors.draft_for_workspace, request, draft_id=draft_id, what="draft")
    return render(request, "conversations/sidekick/draft_details.html", {"draft": draft})


def _panel_response(request, draft: ReplyDraft, *, error: str = "", form=None):
    thread = draft.thread
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("conversations:thread", workspace_slug=request.workspace.slug, thread_id=thread.pk)
    context = panel_context(thread)
    context["draft_error"] = error
    if form is not None:
        context["edit_form"] = form
    response = render(request, "conversations/sidekick/panel.html", context)
    if not error:
        # draft-handled: the thread's controls reload too (handling the draft may close its escalation).
        response["HX-Trigger"] = "thread-updated, draft-handled"
    return response


@workspace_required
@require_POST
def draft_approve(request, draft_id):
    draft = scoped_or_404(selectors.draft_for_workspace, request, draft_id=draft_id, what="draft")
    try:
        services.draft_approve(draft=draft, actor=request.user)
        messages.success(request, "Draft approved and sent.")
    except (services.DraftNotActionable, SendRefused) as exc:
        return _panel_response(request, draft, error=str(exc))
    return _panel_response(request, draft)


@workspace_required
@require_POST
def draft_edit(request, draft_id):
    draft = scoped_or_404(selectors.draft_for_workspace, request, draft_id=draft_id, what="draft")
    form = DraftEditForm(request.POST)
    if not form.is_valid():
        return _panel_response(request, draft, error="Write the message to send (up to 4000 characters).", form=form)
    try:
        services.draft_edit_and_send(draft=draft, text=form.cleaned_data["text"], actor=request.user)
        messages.success(request, "Your edit was sent; you have the conversation now.")
    except (services.DraftNotActionable, SendRefused, ValidationError) as exc:
        return _panel_response(request, draft, error=" ".join(getattr(exc, "messages", [str(exc)])), form=form)
    return _panel_response(request, draft)


@workspace_required
@require_POST
def draft_discard(request, draft_id):
    draft = scoped_or_404(selectors.draft_for_workspace, request, draft_id=draft_id, what="draft")
    try:
        services.draft_discard(draft=draft, actor=request.user)
        messages.success(request, "Draft discarded.")
    except services.DraftNotActionable as exc:
        return _panel_response(request, draft, error=str(exc))
    return _panel_response(request, draft)


# --- The Sidekick page --------------------------------------------------------------------------------

def _page_context(request) -> dict:
    workspace = request.workspace
    cfg = selectors.sidekick_settings_for(workspace=workspace)
    return {
        "cfg": cfg,
        "latest_draft": selectors.latest_scored_draft(workspace=workspace),
        "actions": selectors.workspace_recent_actions(workspace=workspace, limit=10),
        "auto_form": AutoModeForm(initial={"auto_send": cfg.auto_send, "threshold": cfg.threshold}),
        "prompt_revision": selectors.prompt_current(workspace=workspace),
    }


@workspace_required
@vary_on_headers("HX-Request", "HX-Target")
def sidekick(request):
    """Confidence of the latest draft, the last 10 actions (polled in place), auto mode, the prompt."""
    context = _page_context(request)
    if request.htmx and request.htmx.target == "sidekick-live" and not request.htmx.history_restore_request:
        return render(request, "conversations/sidekick/page.html#sidekick-live", context)
    return render(request, "conversations/sidekick/page.html", context)


@admin_required
@require_POST
def sidekick_auto(request):
    form = AutoModeForm(request.POST)
    if form.is_valid():
        try:
            services.sidekick_settings_update(workspace=request.workspace, actor=request.user, **form.cleaned_data)
            messages.success(request, "Auto mode saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "The threshold is a number from 0 to 1.")
    if not request.htmx:
        return redirect("conversations:sidekick", workspace_slug=request.workspace.slug)
    context = _page_context(request)
    if not form.is_valid():
        context["auto_form"] = form
    return render(request, "conversations/sidekick/page.html#auto-mode", context)


@admin_required
def sidekick_settings(request):
    """Settings → Sidekick: every reply-engine setting, saved through `sidekick_settings_update`."""
    cfg = selectors.sidekick_settings_for(workspace=request.workspace)
    members = list(account_selectors.workspace_members(workspace=request.workspace))
    member_emails = [m.user.email for m in members]
    providers = llm_providers_for_workspace(workspace=request.workspace).filter(user__isnull=True)
    if request.method == "POST":
        form = SidekickSettingsForm(request.POST, member_emails=member_emails, providers=providers)
        if form.is_valid():
            try:
                services.sidekick_settings_update(workspace=request.workspace, actor=request.user, **form.changes())
                messages.success(request, "Sidekick settings saved.")
                return redirect("conversations:sidekick_settings", workspace_slug=request.workspace.slug)
            except ValidationError as exc:
                form.add_error(None, exc)
    else:
        form = SidekickSettingsForm.from_settings(cfg, member_emails=member_emails, providers=providers,
                                                  admin_emails=[m.user.email for m in members if m.role == Role.ADMIN])
    return render(request, "conversations/sidekick/settings.html", {"form": form, "cfg": cfg})


@admin_required
def follow_up_steps(request):
    """Settings → Sidekick → Follow-up sequence: add, remove, reorder and time the steps (admins)."""
    cfg = selectors.sidekick_settings_for(workspace=request.workspace)
    steps = selectors.follow_up_steps(workspace=request.workspace)
    initial = [{"delay_hours": s.delay_hours, "use_human_agent_tag": s.use_human_agent_tag, "enabled": s.enabled,
                "ORDER": s.position} for s in steps]
    if request.method == "POST":
        formset = FollowUpStepFormSet(request.POST, initial=initial, prefix="steps")
        if formset.is_valid():
            try:
                services.follow_up_steps_replace(workspace=request.workspace, actor=request.user,
                                                 steps=follow_up_steps_from(formset))
                messages.success(request, "Follow-up sequence saved.")
                return redirect("conversations:follow_up_steps", workspace_slug=request.workspace.slug)
            except ValidationError as exc:
                formset._non_form_errors = formset.error_class(exc.messages)
    else:
        formset = FollowUpStepFormSet(initial=initial, prefix="steps")
    return render(request, "conversations/sidekick/follow_up_steps.html", {"formset": formset, "cfg": cfg})
