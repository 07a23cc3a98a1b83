"""Saved replies: the admins' page (list, add, edit, delete) and the composer's "/" picker."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from conversations import selectors
from conversations.forms import SavedReplyForm
from conversations.saved_replies import (
    VARIABLES,
    saved_replies_for,
    saved_reply_create,
    saved_reply_delete,
    saved_reply_get,
    saved_reply_render,
    saved_reply_update,
)

PICKER_LIMIT = 20


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@admin_required
def saved_replies(request):
    """GET lists the workspace's saved replies with the form to add one; POST adds it."""
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved_reply_create(workspace=request.workspace, actor=request.user, **form.cleaned_data)
            messages.success(request, "Saved reply added.")
            return redirect("conversations:saved_replies", workspace_slug=request.workspace.slug)
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
    context = {"form": form, "saved_replies": saved_replies_for(workspace=request.workspace).select_related(
        "updated_by"), "variables": VARIABLES}
    return render(request, "conversations/saved_replies/list.html", context, status=400 if form.errors else 200)


@admin_required
def saved_reply_edit(request, saved_reply_id):
    saved_reply = scoped_or_404(saved_reply_get, request, saved_reply_id=saved_reply_id, what="saved reply")
    form = SavedReplyForm(request.POST or None, initial={
        "title": saved_reply.title, "shortcut": saved_reply.shortcut, "body": saved_reply.body})
    if request.method == "POST" and form.is_valid():
        try:
            saved_reply_update(saved_reply=saved_reply, actor=request.user, **form.cleaned_data)
            messages.success(request, "Saved reply updated.")
            return redirect("conversations:saved_replies", workspace_slug=request.workspace.slug)
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
    context = {"form": form, "saved_reply": saved_reply, "variables": VARIABLES}
    return render(request, "conversations/saved_replies/edit.html", context, status=400 if form.errors else 200)


@admin_required
@require_POST
def saved_reply_remove(request, saved_reply_id):
    saved_reply = scoped_or_404(saved_reply_get, request, saved_reply_id=saved_reply_id, what="saved reply")
    saved_reply_delete(saved_reply=saved_reply, actor=request.user)
    messages.success(request, f"Deleted “{saved_reply.title}”.")
    return redirect("conversations:saved_replies", workspace_slug=request.workspace.slug)


@workspace_required
def saved_reply_picker(request, thread_id):
    """The composer's "/" picker: matching saved replies, already filled in for this thread's contact.
    JSON, built into the list with textContent by static/js/saved-replies.js (nothing is parsed as HTML)."""
    thread = scoped_or_404(selectors.thread_for_workspace, request, thread_id=thread_id, what="thread")
    found = saved_replies_for(workspace=request.workspace, q=request.GET.get("q", "")[:100])[:PICKER_LIMIT]
    return JsonResponse({"results": [
        {"id": r.pk, "title": r.title, "shortcut": r.shortcut,
         "text": saved_reply_render(saved_reply=r, contact=thread.contact)} for r in found]})
