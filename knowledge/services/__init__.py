"""Writes for the knowledge base: settings, documents and their revisions, FAQ entries, chunks.

Side effects (ingestion, embedding, index builds) are enqueued on commit; the ingestion itself is
``document_revision_ingest``, run by ``knowledge.tasks``. Audit events are written for admin actions.

One module per concern; this package re-exports the public functions, so callers keep writing
``from knowledge import services`` / ``services.faq_create(...)``.
"""

from knowledge.services.chunks import (
    chunks_embed_pending,
    chunks_fts_refresh,
    chunks_reembed,
    embeddings_switch_complete,
)
from knowledge.services.documents import (
    UploadOutcome,
    document_delete,
    document_revision_ingest,
    document_revision_restore,
    document_upload,
    revisions_requeue_stuck,
)
from knowledge.services.faqs import (
    FAQ_IMPORT_MAX_ROWS,
    FaqImportResult,
    faq_create,
    faq_delete,
    faq_import_csv,
    faq_revision_restore,
    faq_update,
)
from knowledge.services.workspace_settings import knowledge_settings_update

__all__ = [
    "FAQ_IMPORT_MAX_ROWS",
    "FaqImportResult",
    "UploadOutcome",
    "chunks_embed_pending",
    "chunks_fts_refresh",
    "chunks_reembed",
    "document_delete",
    "document_revision_ingest",
    "document_revision_restore",
    "document_upload",
    "embeddings_switch_complete",
    "faq_create",
    "faq_delete",
    "faq_import_csv",
    "faq_revision_restore",
    "faq_update",
    "knowledge_settings_update",
    "revisions_requeue_stuck",
]
