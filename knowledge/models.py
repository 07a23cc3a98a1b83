"""Knowledge base: sources (documents, FAQ entries), their revisions, and the chunks retrieval reads.

Shape:
- ``Document`` is a stable handle (title, status, progress); every upload of its content is a
  ``DocumentRevision`` holding the original bytes. ``indexed_revision`` is the revision whose chunks
  are live; a newer revision is indexed beside it and swapped in atomically when complete, so a
  failed or half-done ingestion never changes what retrieval returns.
- ``FaqEntry`` is edited through ``FaqRevision`` rows (append-only); the entry holds the current text.
- ``Chunk`` is what retrieval scores: text, citation metadata, a tsvector and an optional embedding
  (model and dimension stored with every row). ``key`` is a content hash, so re-ingesting unchanged
  text keeps chunk ids (and their embeddings) stable.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import VectorField

from accounts.models import Workspace
from integrations.crypto import EncryptedTextField
from integrations.embeddings import Provider

# Text search configurations shipped with Postgres (snowball stemmers) that a workspace may pick.
FTS_LANGUAGES = [
    ("simple", "Simple (no stemming)"), ("english", "English"), ("french", "French"), ("german", "German"),
    ("spanish", "Spanish"), ("italian", "Italian"), ("portuguese", "Portuguese"), ("dutch", "Dutch"),
    ("danish", "Danish"), ("finnish", "Finnish"), ("norwegian", "Norwegian"), ("swedish", "Swedish"),
    ("russian", "Russian"), ("turkish", "Turkish"),
]


PROVIDER_CHOICES = [(Provider.NONE, "None (full-text only)"), (Provider.LOCAL, "Local (all-MiniLM-L6-v2, on this server)"),
                    (Provider.OPENAI_COMPATIBLE, "OpenAI-compatible endpoint")]


class KnowledgeSettings(models.Model):
    """Per-workspace retrieval configuration. Created on first use with the deployment defaults."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="knowledge_settings")
    embedding_provider = models.CharField(max_length=32, default=Provider.LOCAL, choices=PROVIDER_CHOICES)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dimension = models.PositiveIntegerField(default=0)
    embedding_base_url = models.URLField(max_length=500, blank=True)
    embedding_api_key = EncryptedTextField(blank=True)
    # A model switch in progress: the chosen configuration waits here while every chunk is re-embedded
    # into ``Chunk.embedding_next``; search keeps using the fields above (and the old vectors) until the
    # re-embed is complete, then both swap in one transaction (services.embeddings_switch_complete).
    pending_provider = models.CharField(max_length=32, blank=True, choices=PROVIDER_CHOICES)
    pending_model = models.CharField(max_length=200, blank=True)
    pending_dimension = models.PositiveIntegerField(default=0)
    pending_base_url = models.URLField(max_length=500, blank=True)
    pending_api_key = EncryptedTextField(blank=True)
    fts_language = models.CharField(max_length=32, choices=FTS_LANGUAGES, default="english")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "knowledge settings"

    def __str__(self):
        return f"knowledge settings for {self.workspace}"


class DocumentKind(models.TextChoices):
    PDF = "pdf", "PDF"
    TEXT = "text", "Plain text"
    MARKDOWN = "markdown", "Markdown"


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Document(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_documents")
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices, blank=True)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # 0..100 for the revision being processed
    # Why the latest upload was rejected or failed; shown on the document. Empty when all is well.
    error = models.TextField(blank=True)
    indexed_revision = models.ForeignKey("DocumentRevision", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["workspace", "filename"])]

    def __str__(self):
        return self.title

    @property
    def in_progress(self) -> bool:
        return self.status in (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


class RevisionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded before indexing"


class DocumentRevision(models.Model):
    """One uploaded version of a document's content, kept so that any revision can be restored.

    The bytes live in Postgres (uploads are capped by KNOWLEDGE_MAX_UPLOAD_MB): one durable store,
    backed up with everything else. A rejected upload keeps no bytes.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=RevisionStatus.choices, default=RevisionStatus.QUEUED)
    error = models.TextField(blank=True)
    restored_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["document", "-number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="document_revision_number_unique")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.document} r{self.number}"


class FaqEntry(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_faqs")
    question = models.TextField()
    answer = models.TextField()
    # lower-cased, punctuation-free question for the no-LLM near-exact matcher.
    question_normalized = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)  # False once deleted; a revision can bring it back
    revision_number = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["question", "id"]
        indexes = [models.Index(fields=["workspace", "is_active"]),
                   models.Index(fields=["workspace", "question_normalized"])]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self):
        return self.question[:80]


class FaqRevision(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        IMPORTED = "imported", "Imported from CSV"
        DELETED = "deleted", "Deleted"
        RESTORED = "restored", "Restored"

    faq = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    question = models.TextField()
    answer = models.TextField()
    is_active = models.BooleanField(default=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    restored_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["faq", "-number"]
        constraints = [models.UniqueConstraint(fields=["faq", "number"], name="faq_revision_number_unique")]

    def __str__(self):
        return f"FAQ {self.faq_id} r{self.number}"


class Chunk(models.Model):
    """A retrievable passage. Exactly one of ``document`` / ``faq`` is set.

    ``workspace`` is denormalised on purpose: every retrieval query filters on it first, and the
    per-workspace vector indexes are partial indexes on it (see ``knowledge.vector_index``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.CASCADE, related_name="chunks")
    revision = models.ForeignKey(DocumentRevision, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    faq = models.ForeignKey(FaqEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="chunks")
    key = models.CharField(max_length=64)  # sha256 of the chunk's position-independent content
    position = models.PositiveIntegerField(default=0)
    text = models.TextField()
    # Title and section path, indexed with a higher weight and prepended for embedding.
    context = models.TextField(blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    section = models.CharField(max_length=500, blank=True)
    search_vector = SearchVectorField(null=True)
    embedding = VectorField(null=True, blank=True)  # untyped: the dimension differs between workspaces
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dimension = models.PositiveIntegerField(default=0)
    # The vector of the workspace's pending model during a switch (KnowledgeSettings.pending_*).
    embedding_next = VectorField(null=True, blank=True)
    embedding_next_model = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_id", "faq_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(document__isnull=False, faq__isnull=True)
                           | models.Q(document__isnull=True, faq__isnull=False)),
                name="chunk_has_one_source",
            ),
            models.UniqueConstraint(fields=["document", "key"], name="chunk_document_key_unique"),
            models.UniqueConstraint(fields=["faq", "key"], name="chunk_faq_key_unique"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="knowledge_chunk_fts"),
            models.Index(fields=["workspace", "embedding_model"], name="knowledge_chunk_ws_model"),
        ]

    def __str__(self):
        return f"chunk {self.pk} ({self.text[:40]})"


class VectorIndex(models.Model):
    """A per-workspace partial HNSW index that exists in the database (see knowledge.vector_index)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=63, unique=True)
    embedding_model = models.CharField(max_length=200)
    embedding_dimension = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "embedding_model", "embedding_dimension"],
                                               name="vector_index_unique")]

    def __str__(self):
        return self.name
