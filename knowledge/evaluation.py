"""Retrieval quality over the shipped samples: load them into a workspace, compute hit@k per mode."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Workspace
from knowledge import services
from knowledge.samples import SAMPLES_DIR
from knowledge.selectors import knowledge_search

SAMPLE_DOCUMENTS = ["harbor-studio-pricing.md", "harbor-studio-policies.md", "harbor-studio-first-visit.pdf"]
SAMPLE_FAQ = "harbor-studio-faq.csv"


def samples_load(*, workspace: Workspace, actor=None) -> None:
    """Upload and ingest the sample documents and import the sample FAQ, synchronously."""
    for name in SAMPLE_DOCUMENTS:
        outcome = services.document_upload(workspace=workspace, actor=actor,
                                           upload=SimpleUploadedFile(name, (SAMPLES_DIR / name).read_bytes()))
        if outcome.revision and not outcome.unchanged and not outcome.rejected:
            services.document_revision_ingest(revision_id=outcome.revision.pk)
    services.faq_import_csv(workspace=workspace, actor=actor,
                            upload=SimpleUploadedFile(SAMPLE_FAQ, (SAMPLES_DIR / SAMPLE_FAQ).read_bytes()))
    services.chunks_embed_pending(workspace_id=workspace.pk)


def labelled_questions() -> list[dict]:
    return json.loads((SAMPLES_DIR / "questions.json").read_text())


@dataclass(frozen=True)
class Evaluation:
    mode: str
    k: int
    hits: int
    total: int
    misses: list[str]

    @property
    def hit_rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


def _is_hit(result, item) -> bool:
    if item["source"].endswith(".csv"):
        source_ok = result.faq_id is not None
    else:
        source_ok = result.document_id is not None and result.document_title == item["source"].rsplit(".", 1)[0]
    return source_ok and item["expect"].lower() in result.text.lower()


def evaluate(*, workspace: Workspace, mode: str, k: int = 5) -> Evaluation:
    questions = labelled_questions()
    misses = []
    for item in questions:
        results = knowledge_search(workspace=workspace, query=item["question"], limit=k, mode=mode)
        if not any(_is_hit(result, item) for result in results):
            misses.append(item["question"])
    return Evaluation(mode=mode, k=k, hits=len(questions) - len(misses), total=len(questions), misses=misses)
