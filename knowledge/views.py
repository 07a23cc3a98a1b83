"""Knowledge pages. Members (setters included) may look and test; only admins change anything."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from integrations.crypto import mask
from integrations.embeddings import local_provider_available
from integrations.llm.selectors import llm_provider_for
from knowledge import question_trials, selectors, services
from knowledge.forms import CsvImportForm, FaqForm, KnowledgeSettingsForm, SearchForm, UploadForm
from knowledge.models import DocumentRevision, FaqRevision


@workspace_required
def knowledge_home(request):
    """Documents with status and progress; the rows poll themselves while anything is processing."""
    workspace = request.workspace
    context = {
        "documents": selectors.documents_for_workspace(workspace=workspace),
        "in_progress": selectors.documents_in_progress(workspace=workspace),
        "embedding": selectors.embedding_status(workspace=workspace),
        "faq_count": selectors.faqs_for_workspace(workspace=workspace).count(),
        "upload_form": UploadForm(),
    }
    template = "knowledge/home.html#document-rows" if request.htmx else "knowledge/home.html"
    return render(request, template, context)


@admin_required
@require_POST
def document_upload(request):
    form = UploadForm(request.POST, request.FILES)
    document = None
    if request.POST.get("document"):
        document = scoped_or_404(selectors.document_for_workspace, request, document_id=request.POST["document"], what="document")
    if not form.is_valid():
        messages.error(request, "Choose a file to upload.")
        return redirect("knowledge:home", workspace_slug=request.workspace.slug)
    outcome = services.document_upload(workspace=request.workspace, upload=form.cleaned_data["file"],
                                       title=form.cleaned_data["title"], actor=request.user, document=document)
    (messages.error if outcome.rejected else messages.success)(request, outcome.message)
    if document is not None:
        return redirect("knowledge:document", workspace_slug=request.workspace.slug, document_id=document.pk)
    return redirect("knowledge:home", workspace_slug=request.workspace.slug)


@workspace_required
def document_detail(request, document_id):
    document = scoped_or_404(selectors.document_for_workspace, request, document_id=document_id, what="document")
    context = {
        "document": document,
        "revisions": selectors.document_revisions(document=document),
        "chunks": document.chunks.defer("embedding", "search_vector").order_by("position")[:50],
        "upload_form": UploadForm(),
    }
    return render(request, "knowledge/document.html", context)


@admin_required
@require_POST
def document_delete(request, document_id):
    document = scoped_or_404(selectors.document_for_workspace, request, document_id=document_id, what="document")
    services.document_delete(document=document, actor=request.user)
    messages.success(request, f"{document.title} was deleted.")
    return redirect("knowledge:home", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def document_revision_restore(request, revision_id):
    try:
        revision = selectors.document_revision_for_workspace(workspace=request.workspace, revision_id=revision_id)
    except DocumentRevision.DoesNotExist:
        raise Http404("No such revision") from None
    try:
        copy = services.document_revision_restore(revision=revision, actor=request.user)
        messages.success(request, f"Revision {revision.number} restored as revision {copy.number}; indexing it now.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("knowledge:document", workspace_slug=request.workspace.slug, document_id=revision.document_id)


@workspace_required
def faq_list(request):
    context = {
        "faqs": selectors.faqs_for_workspace(workspace=request.workspace),
        "deleted": selectors.faqs_for_workspace(workspace=request.workspace, include_deleted=True)
        .filter(is_active=False),
        "form": FaqForm(),
        "import_form": CsvImportForm(),
    }
    return render(request, "knowledge/faq_list.html", context)


@admin_required
@require_POST
def faq_create(request):
    form = FaqForm(request.POST)
    if form.is_valid():
        try:
            services.faq_create(workspace=request.workspace, actor=request.user, **form.cleaned_data)
            messages.success(request, "FAQ entry added.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "An FAQ entry needs a question (up to 500 characters) and an answer.")
    return redirect("knowledge:faq_list", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def faq_import(request):
    form = CsvImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a CSV file.")
    else:
        try:
            result = services.faq_import_csv(workspace=request.workspace, upload=form.cleaned_data["file"],
                                             actor=request.user)
            messages.success(request, f"Imported: {result.created} new, {result.updated} updated, "
                                      f"{result.unchanged} unchanged.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("knowledge:faq_list", workspace_slug=request.workspace.slug)


@workspace_required
def faq_detail(request, faq_id):
    """GET shows the entry and its history; POST (admins only) saves an edit as a new revision."""
    faq = scoped_or_404(selectors.faq_for_workspace, request, faq_id=faq_id, what="FAQ entry")
    form = FaqForm(initial={"question": faq.question, "answer": faq.answer})
    if request.method == "POST":
        if not request.access.is_admin:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Only workspace admins can do this.")
        form = FaqForm(request.POST)
        if form.is_valid():
            try:
                services.faq_update(faq=faq, actor=request.user, **form.cleaned_data)
                messages.success(request, "Saved as a new revision.")
                return redirect("knowledge:faq_detail", workspace_slug=request.workspace.slug, faq_id=faq.pk)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
    context = {"faq": faq, "form": form, "revisions": selectors.faq_revisions(faq=faq)}
    return render(request, "knowledge/faq_detail.html", context, status=400 if form.errors else 200)


@admin_required
@require_POST
def faq_delete(request, faq_id):
    faq = scoped_or_404(selectors.faq_for_workspace, request, faq_id=faq_id, what="FAQ entry")
    services.faq_delete(faq=faq, actor=request.user)
    messages.success(request, "FAQ entry deleted; restore it from its history.")
    return redirect("knowledge:faq_list", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def faq_revision_restore(request, revision_id):
    try:
        revision = selectors.faq_revision_for_workspace(workspace=request.workspace, revision_id=revision_id)
    except FaqRevision.DoesNotExist:
        raise Http404("No such revision") from None
    faq = services.faq_revision_restore(revision=revision, actor=request.user)
    messages.success(request, f"Revision {revision.number} restored as revision {faq.revision_number}.")
    return redirect("knowledge:faq_detail", workspace_slug=request.workspace.slug, faq_id=faq.pk)


def _split_loose(results) -> tuple[list, list]:
    """Passages the vector side alone found, far from the question (no word in common), apart: nearest
    neighbours always exist, and an unrelated question must not look answered."""
    limit = settings.KNOWLEDGE_TEST_LOOSE_DISTANCE
    def loose(r):
        return not r.lexical_rank and r.vector_distance is not None and r.vector_distance > limit
    return [r for r in results if not loose(r)], [r for r in results if loose(r)]


@workspace_required
def search_test(request):
    """What retrieval returns for a question, with the score parts; read-only, open to setters. With an
    LLM provider the results also start the model's answer (`search_test_answer`, on load)."""
    form = SearchForm(request.GET or None)
    results, match, query = None, None, ""
    if form.is_valid():
        query, mode = form.cleaned_data["q"], form.cleaned_data["mode"] or "hybrid"
        results = selectors.knowledge_search(workspace=request.workspace, query=query, limit=8, mode=mode)
        match = selectors.faq_match(workspace=request.workspace, text=query)
        results, loose = _split_loose(results)
    else:
        loose = []
    context = {"form": form, "results": results, "loose": loose, "match": match, "query": query,
               "has_provider": llm_provider_for(workspace=request.workspace) is not None,
               "embedding": selectors.embedding_status(workspace=request.workspace)}
    template = "knowledge/test.html#results" if request.htmx else "knowledge/test.html"
    return render(request, template, context)


@workspace_required
@require_POST
def search_test_answer(request):
    """Start the answer Sidekick would write to a test question: a job on the `llm` queue (the model is
    slow); the fragment polls `search_test_answer_result`. A POST: it spends the person's tokens."""
    form = SearchForm(request.POST)
    if not form.is_valid():
        return render(request, "knowledge/test.html#answer", {"state": "invalid"}, status=400)
    if llm_provider_for(workspace=request.workspace) is None:
        return render(request, "knowledge/test.html#answer", {"state": "no_provider"})
    try:
        trial_id = question_trials.question_trial_start(workspace=request.workspace, user=request.user,
                                                        question=form.cleaned_data["q"])
    except question_trials.TrialUnavailable:
        return render(request, "knowledge/test.html#answer", {"state": "unavailable"}, status=503)
    return render(request, "knowledge/test.html#answer", {"state": "pending", "trial_id": trial_id})


@workspace_required
def search_test_answer_result(request, trial_id):
    """The trial's state: still drafting (the fragment polls again), or the answer. 404 for a trial of
    another person or workspace, or one that expired."""
    try:
        record = question_trials.question_trial_for(workspace=request.workspace, user=request.user,
                                                    trial_id=trial_id)
    except question_trials.TrialUnavailable:
        return render(request, "knowledge/test.html#answer", {"state": "unavailable"})
    if record is None:
        raise Http404("No such test")
    context = {"state": record["status"], "result": record.get("result"), "trial_id": trial_id}
    return render(request, "knowledge/test.html#answer", context)


@admin_required
def knowledge_settings(request):
    ks = selectors.knowledge_settings_for(workspace=request.workspace)
    if request.method == "POST":
        form = KnowledgeSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            key = "" if data["clear_api_key"] else (data["embedding_api_key"] or None)
            try:
                services.knowledge_settings_update(
                    workspace=request.workspace, actor=request.user, embedding_provider=data["embedding_provider"],
                    embedding_model=data["embedding_model"], embedding_dimension=data["embedding_dimension"] or 0,
                    embedding_base_url=data["embedding_base_url"], embedding_api_key=key,
                    fts_language=data["fts_language"])
                messages.success(request, "Knowledge settings saved. Chunks are re-indexed in the background "
                                          "when the model or language changed.")
                return redirect("knowledge:settings", workspace_slug=request.workspace.slug)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
    elif ks.pending_provider:  # a switch in progress: the form shows the configuration being switched to
        form = KnowledgeSettingsForm(initial={
            "embedding_provider": ks.pending_provider, "embedding_model": ks.pending_model,
            "embedding_dimension": ks.pending_dimension or None, "embedding_base_url": ks.pending_base_url,
            "fts_language": ks.fts_language})
    else:
        form = KnowledgeSettingsForm(initial={
            "embedding_provider": ks.embedding_provider, "embedding_model": ks.embedding_model,
            "embedding_dimension": ks.embedding_dimension or None, "embedding_base_url": ks.embedding_base_url,
            "fts_language": ks.fts_language})
    key = ks.pending_api_key if ks.pending_provider else ks.embedding_api_key
    context = {"form": form, "masked_key": mask(key), "local_available": local_provider_available(),
               "embedding": selectors.embedding_status(workspace=request.workspace)}
    return render(request, "knowledge/settings.html", context, status=400 if form.errors else 200)
