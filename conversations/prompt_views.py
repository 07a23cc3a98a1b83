"""The system prompt editor: live preview, revisions with author and note, diff, restore.

Admins edit; setters may read the prompt, its history and the diffs.
"""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from conversations import selectors, services
from conversations.forms import PromptForm
from conversations.pipeline.prompt import DEFAULT_PROMPT

HISTORY_LIMIT = 200


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, line) pairs of a unified line diff; kind is "add", "del", "hunk" or "same".

    Lines are data for the template (which escapes them), never pre-rendered HTML.
    """
    rows = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        rows.append((kind, line))
    return rows


def _context(request, form=None) -> dict:
    workspace = request.workspace
    revisions = list(selectors.prompt_revisions(workspace=workspace)[:HISTORY_LIMIT])  # newest first, with authors
    current = revisions[0] if revisions else None
    text = current.text if current else DEFAULT_PROMPT
    return {
        "form": form or PromptForm(initial={"text": text}),
        "current": current,
        "revisions": revisions,
        "preview": selectors.prompt_preview(workspace=workspace, text=form.data.get("text", text) if form else text),
    }


@workspace_required
def prompt(request):
    return render(request, "conversations/prompt/editor.html", _context(request))


@workspace_required
@require_POST
def prompt_preview(request):
    """The full system prompt as the model will see it, for the text being edited (no write)."""
    text = request.POST.get("text", "")[:20000]
    return render(request, "conversations/prompt/editor.html#preview",
                  {"preview": selectors.prompt_preview(workspace=request.workspace, text=text)})


@admin_required
@require_POST
def prompt_save(request):
    form = PromptForm(request.POST)
    if form.is_valid():
        try:
            revision = services.prompt_revision_create(workspace=request.workspace, text=form.cleaned_data["text"],
                                                       note=form.cleaned_data["note"], actor=request.user)
            messages.success(request, f"Saved as revision {revision.number}.")
            return redirect("conversations:prompt", workspace_slug=request.workspace.slug)
        except ValidationError as exc:
            form.add_error("text", exc)
    return render(request, "conversations/prompt/editor.html", _context(request, form), status=400)


@workspace_required
def prompt_diff(request, revision_id):
    revision = scoped_or_404(selectors.prompt_revision_for_workspace, request, revision_id=revision_id, what="revision")
    previous = selectors.prompt_revision_previous(revision=revision)
    old = previous.text if previous else DEFAULT_PROMPT
    context = {"revision": revision, "previous": previous, "diff": diff_lines(old, revision.text)}
    template = "conversations/prompt/diff.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#diff"
    return render(request, template, context)


@admin_required
@require_POST
def prompt_restore(request, revision_id):
    revision = scoped_or_404(selectors.prompt_revision_for_workspace, request, revision_id=revision_id, what="revision")
    restored = services.prompt_revision_restore(revision=revision, actor=request.user)
    messages.success(request, f"Revision {revision.number} restored as revision {restored.number}.")
    return redirect("conversations:prompt", workspace_slug=request.workspace.slug)
