"""Reads for the knowledge base. Every function takes the workspace and never crosses it."""

from __future__ import annotations

import itertools
import logging
import re
import time
import unicodedata
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q, QuerySet

from accounts.models import Workspace
from integrations.embeddings import EmbeddingError
from knowledge.embedding import knowledge_settings_defaults, pending_provider, texts_embed, workspace_provider
from knowledge.models import (
    Chunk,
    Document,
    DocumentRevision,
    FaqEntry,
    FaqRevision,
    KnowledgeSettings,
)
from knowledge.search_workers import search_workers
from knowledge.vector_index import index_predicate
from sidekick_project.db import first_unordered, in_autocommit

logger = logging.getLogger(__name__)

RRF_K = 60  # the constant from Cormack et al.; damps the weight of the very first ranks
SEARCH_MODES = ("hybrid", "lexical", "vector")


# --- Settings and listings -------------------------------------------------------------------------

def knowledge_settings_for(*, workspace: Workspace) -> KnowledgeSettings:
    """The workspace's settings, or an unsaved instance with the deployment defaults."""
    found = first_unordered(KnowledgeSettings.objects.filter(workspace=workspace))  # one row per workspace
    return found or KnowledgeSettings(workspace=workspace, **knowledge_settings_defaults())


def documents_for_workspace(*, workspace: Workspace) -> QuerySet[Document]:
    return Document.objects.filter(workspace=workspace).select_related("indexed_revision")


def document_for_workspace(*, workspace: Workspace, document_id: int) -> Document:
    """Raises Document.DoesNotExist for ids of other workspaces."""
    return documents_for_workspace(workspace=workspace).get(pk=document_id)


def document_revisions(*, document: Document) -> QuerySet[DocumentRevision]:
    return (DocumentRevision.objects.filter(document=document).defer("content")
            .select_related("created_by", "restored_from").order_by("-number"))


def document_revision_for_workspace(*, workspace: Workspace, revision_id: int) -> DocumentRevision:
    return DocumentRevision.objects.select_related("document").get(pk=revision_id, document__workspace=workspace)


def documents_in_progress(*, workspace: Workspace) -> bool:
    return Document.objects.filter(workspace=workspace, status__in=["queued", "processing"]).exists()


def faqs_for_workspace(*, workspace: Workspace, include_deleted: bool = False) -> QuerySet[FaqEntry]:
    faqs = FaqEntry.objects.filter(workspace=workspace)
    return faqs if include_deleted else faqs.filter(is_active=True)


def faq_for_workspace(*, workspace: Workspace, faq_id: int) -> FaqEntry:
    return FaqEntry.objects.get(workspace=workspace, pk=faq_id)


def faq_revisions(*, faq: FaqEntry) -> QuerySet[FaqRevision]:
    return FaqRevision.objects.filter(faq=faq).select_related("created_by", "restored_from").order_by("-number")


def faq_revision_for_workspace(*, workspace: Workspace, revision_id: int) -> FaqRevision:
    return FaqRevision.objects.select_related("faq").get(pk=revision_id, faq__workspace=workspace)


@dataclass(frozen=True)
class EmbeddingStatus:
    provider: str
    model: str
    total: int
    embedded: int
    # A model switch in progress: the model being re-embedded and how many chunks have its vector.
    switching_to: str = ""
    switched: int = 0

    @property
    def switch_percent(self) -> int:
        return 100 if not self.total else int(100 * self.switched / self.total)

    @property
    def pending(self) -> int:
        return self.total - self.embedded

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.embedded / self.total)


def embedding_status(*, workspace: Workspace) -> EmbeddingStatus:
    ks = knowledge_settings_for(workspace=workspace)
    provider = workspace_provider(ks)
    counts = Chunk.objects.filter(workspace=workspace).aggregate(
        total=Count("id"),
        embedded=Count("id", filter=Q(embedding_model=provider.model, embedding_dimension=provider.dimension,
                                      embedding__isnull=False)),
    )
    target = pending_provider(ks)
    switched = 0
    if target is not None:
        switched = Chunk.objects.filter(workspace=workspace, embedding_next_model=target.model,
                                        embedding_next__isnull=False).count()
    return EmbeddingStatus(provider=ks.embedding_provider, model=provider.model if provider.enabled else "",
                           total=counts["total"], embedded=counts["embedded"] if provider.enabled else 0,
                           switching_to=target.model if target is not None else "", switched=switched)


# --- Retrieval -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetrievedChunk:
    """One retrieved passage with why it was retrieved and what to cite.

    Scores: ``lexical_rank``/``vector_rank`` are 1-based positions in each candidate list (None when
    the chunk was not a candidate there), ``lexical_score`` is Postgres ``ts_rank`` (higher is
    better), ``vector_distance`` the cosine distance (0 identical .. 2 opposite), and ``score`` the
    fused reciprocal-rank-fusion score, sum of 1/(60 + rank) over the lists that found it.
    """

    chunk_id: int
    text: str
    score: float
    lexical_rank: int | None
    lexical_score: float | None
    vector_rank: int | None
    vector_distance: float | None
    source: str  # "document" or "faq"
    document_id: int | None
    document_title: str
    revision_number: int | None
    page: int | None
    section: str
    faq_id: int | None

    def citation(self) -> dict:
        """JSON-safe record of this chunk for a draft's "sources used" (ids plus score parts)."""
        return asdict(self)


# Lexical candidates: a question's words are ORed (a customer rarely uses all the words of the
# passage that answers them), so in a large workspace a query matches thousands of chunks, and
# ranking them all means visiting thousands of wide heap rows (BENCHMARKS.md). Instead the rows are
# taken in tiers, most query terms matched first, and only the first KNOWLEDGE_LEXICAL_CANDIDATES
# of them are ranked with ts_rank. When fewer rows match (every small workspace), all are ranked
# and the result is exactly the plain OR ranking. Tiers are "at least m of the T rarest query
# terms" (T = LEXICAL_TIER_TERMS, so at most C(5, 2) = 10 AND-clauses per tier), evaluated by the
# GIN index; UNION ALL under a LIMIT stops as soon as enough rows are found, so looser tiers are
# never read when stricter ones suffice.
LEXICAL_TIER_TERMS = 5
LEXICAL_MAX_TERMS = 64  # a pasted essay still makes a bounded query
_STATS_TTL = 600.0
_lexeme_stats: dict = {"at": 0.0, "freq": {}}


def _tsquery_term(lexeme: str) -> str:
    """A lexeme as a quoted tsquery operand (already normalised: no dictionary is applied again)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsquery_at_least(terms: list[str], m: int) -> str:
    """Matches a document containing at least ``m`` of ``terms``."""
    return " | ".join("(" + " & ".join(_tsquery_term(t) for t in combo) + ")"
                      for combo in itertools.combinations(terms, m))


def _lexeme_frequencies() -> dict[str, float]:
    """Share of chunks containing each of the most common lexemes (Postgres' own column statistics).

    A cheap IDF proxy, global to the table and refreshed by ANALYZE; cached per process.
    """
    now = time.monotonic()
    if now - _lexeme_stats["at"] > _STATS_TTL:
        with connection.cursor() as cursor:
            cursor.execute("SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                           "WHERE tablename = 'knowledge_chunk' AND attname = 'search_vector' LIMIT 1")
            row = cursor.fetchone()
        freq = dict(zip(row[0], row[1], strict=False)) if row and row[0] and row[1] else {}
        _lexeme_stats.update(at=now, freq=freq)
    return _lexeme_stats["freq"]


def _query_lexemes(*, language: str, query: str) -> list[str]:
    """The query's distinct lexemes in the workspace's language, in order of first appearance."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT lexeme FROM unnest(to_tsvector(%s::regconfig, %s)) ORDER BY positions[1], lexeme",
                       [language, query])
        return [row[0] for row in cursor.fetchall()][:LEXICAL_MAX_TERMS]


def _lexical_candidates(*, workspace_id: int, language: str, query: str, limit: int) -> list[tuple[int, float]]:
    terms = _query_lexemes(language=language, query=query)
    if not terms:
        return []
    freq = _lexeme_frequencies()
    tier_terms = sorted(terms, key=lambda t: freq.get(t, 0.0))[:LEXICAL_TIER_TERMS]  # stable: rarest first
    any_term = " | ".join(_tsquery_term(t) for t in terms)
    # The workspace id is inlined (an int) in every branch so that a large workspace's partial GIN
    # index can be matched; everything else is bound.
    branch = f"SELECT id, search_vector FROM knowledge_chunk WHERE workspace_id = {int(workspace_id)} "  # noqa: S608
    branches, params, stricter = [], [], None
    for m in range(len(tier_terms), 0, -1):
        tier = any_term if m == 1 else _tsquery_at_least(tier_terms, m)
        if stricter is None:
            branches.append(f"({branch}AND search_vector @@ %s::tsquery)")
            params.append(tier)
        else:  # rows of stricter tiers were already offered
            branches.append(f"({branch}AND search_vector @@ %s::tsquery AND NOT search_vector @@ %s::tsquery)")
            params += [tier, stricter]
        stricter = tier
    sql = (f"SELECT id, ts_rank(search_vector, %s::tsquery, 1) AS rank "  # noqa: S608
           f"FROM ({' UNION ALL '.join(branches)} LIMIT %s) candidates ORDER BY rank DESC, id LIMIT %s")
    cap = max(settings.KNOWLEDGE_LEXICAL_CANDIDATES, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, [any_term, *params, cap, limit])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def vector_candidates(*, workspace_id: int, model: str, dimension: int, vector: list[float],
                      limit: int, private_connection: bool = False) -> list[tuple[int, float]]:
    """Nearest chunks of one workspace by cosine distance, ``[(chunk_id, distance)]``.

    The predicate is inlined as literals (not bind parameters) so that Postgres can match the
    workspace's partial HNSW index when it exists; otherwise this is an exact scan of the workspace's
    rows. See knowledge.vector_index for the reasoning.

    ``hnsw.ef_search`` is set with SET LOCAL in a transaction around the query (four round trips),
    so it never leaks into the caller's session. ``private_connection=True`` (a search helper thread,
    whose connection runs nothing else) sets it once per session instead: one round trip per query.
    """
    dim = int(dimension)
    predicate = index_predicate(workspace_id=workspace_id, model=model, dimension=dim)
    # Only integers and an escaped literal are interpolated (see index_predicate).
    sql = (f"SELECT id, (embedding::vector({dim})) <=> %s::vector({dim}) AS distance FROM knowledge_chunk "  # noqa: S608
           f"WHERE {predicate} ORDER BY (embedding::vector({dim})) <=> %s::vector({dim}) LIMIT %s")
    literal = "[" + ",".join(repr(float(x)) for x in vector) + "]"
    ef_search = max(int(settings.KNOWLEDGE_HNSW_EF_SEARCH), limit)
    if private_connection and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            # Remembered per psycopg connection object (not its id(), which a new one may reuse).
            session, done = getattr(connection, "_knowledge_ef_search", (None, None))
            if session is not connection.connection or done != ef_search:
                cursor.execute(f"SET hnsw.ef_search = {ef_search}")
                connection._knowledge_ef_search = (connection.connection, ef_search)
            cursor.execute(sql, [literal, literal, limit])
            return [(row[0], float(row[1])) for row in cursor.fetchall()]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {ef_search}")
        cursor.execute(sql, [literal, literal, limit])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _vector_side(*, workspace: Workspace, provider, query: str, query_vector: list[float] | None, depth: int,
                 private_connection: bool = False) -> list[tuple[int, float]]:
    """Embed the query (unless given) and return the vector candidates. Raises EmbeddingError."""
    if query_vector is None:
        query_vector = texts_embed(workspace=workspace, provider=provider, texts=[query], purpose="query")[0]
    return vector_candidates(workspace_id=workspace.pk, model=provider.model, dimension=provider.dimension,
                             vector=query_vector, limit=depth, private_connection=private_connection)


def knowledge_search(*, workspace: Workspace, query: str, limit: int = 8, mode: str = "hybrid",
                     query_vector: list[float] | None = None) -> list[RetrievedChunk]:
    """Retrieve the workspace's chunks that best answer ``query``: the reply pipeline's entry point.

    Contract:
    - Only chunks of ``workspace`` are ever returned (every query filters on it first).
    - ``mode="hybrid"`` (default) fuses Postgres full-text search (the workspace's language) with
      pgvector cosine search by reciprocal rank fusion; each side contributes up to
      ``max(4 * limit, 40)`` candidates. When the workspace has no embeddings (provider ``none``)
      or embedding the query fails, the result is the lexical ranking alone (logged, never raised).
      ``"lexical"`` and ``"vector"`` return one side only (for the test page and evaluations).
    - Returns at most ``limit`` :class:`RetrievedChunk`, best first, with score parts and citation
      metadata (document title, revision, page, section, or FAQ id). An empty or stop-word-only
      query returns ``[]``.
    - ``query_vector`` skips embedding the query (benchmarks, or a caller that already has it).
    - Cost: two indexed queries plus one embedding call for the query; no writes. In hybrid mode,
      outside a transaction, the vector side (embedding included) runs on a helper thread's own
      connection at the same time as the lexical side (``KNOWLEDGE_SEARCH_THREADS``); inside a
      transaction, or when every helper is busy, the two run one after the other in the caller.
    """
    if mode not in SEARCH_MODES:
        raise ValueError(f"mode must be one of {SEARCH_MODES}")
    query = (query or "").strip()
    if not query or limit <= 0:
        return []
    ks = knowledge_settings_for(workspace=workspace)
    depth = max(4 * limit, 40)

    provider = workspace_provider(ks) if mode in ("hybrid", "vector") else None
    vector_args = None
    if provider is not None and provider.enabled:
        vector_args = {"workspace": workspace, "provider": provider, "query": query, "query_vector": query_vector,
                       "depth": depth}
    # Hybrid: the vector side (query embedding included) runs on a helper thread's own connection
    # while this thread runs the lexical side. Not inside a transaction (atomic block, or autocommit
    # turned off): the helper could not see this connection's uncommitted chunks.
    pending = None
    if mode == "hybrid" and vector_args is not None and in_autocommit():
        workers = search_workers()
        if workers is not None:
            pending = workers.try_submit(_vector_side, private_connection=True, **vector_args)

    lexical: list[tuple[int, float]] = []
    if mode in ("hybrid", "lexical"):
        lexical = _lexical_candidates(workspace_id=workspace.pk, language=ks.fts_language, query=query, limit=depth)

    vectors: list[tuple[int, float]] = []
    if vector_args is not None:
        try:
            if pending is not None:
                try:
                    vectors = pending.result()
                except DatabaseError as exc:  # e.g. the helper's connection was dropped: retry here
                    logger.warning("knowledge_search: vector side failed on a helper thread, retrying: %s", exc)
                    pending = None
            if pending is None:
                vectors = _vector_side(**vector_args)
        except EmbeddingError as exc:
            logger.warning("knowledge_search: vector side skipped for workspace %s: %s", workspace.pk, exc)

    fused: dict[int, dict] = {}
    for rank, (chunk_id, score) in enumerate(lexical, start=1):
        fused.setdefault(chunk_id, {}).update(lexical_rank=rank, lexical_score=score)
    for rank, (chunk_id, distance) in enumerate(vectors, start=1):
        fused.setdefault(chunk_id, {}).update(vector_rank=rank, vector_distance=distance)
    for parts in fused.values():
        parts["score"] = sum(1.0 / (RRF_K + parts[key]) for key in ("lexical_rank", "vector_rank") if key in parts)
    best = sorted(fused.items(), key=lambda item: (-item[1]["score"], item[0]))[:limit]
    if not best:
        return []

    # Only the columns a citation needs, as plain tuples (no model instances): this runs on every
    # draft (the hot path, BENCHMARKS.md).
    rows = {
        row[0]: row
        for row in Chunk.objects.filter(workspace=workspace, pk__in=[chunk_id for chunk_id, _ in best]).order_by()
        .values_list("id", "text", "page", "section", "faq_id", "document_id", "document__title", "revision__number")
    }
    results = []
    for chunk_id, parts in best:
        row = rows.get(chunk_id)
        if row is None:  # replaced between the two queries
            continue
        _, text, page, section, faq_id, document_id, document_title, revision_number = row
        results.append(RetrievedChunk(
            chunk_id=chunk_id, text=text, score=round(parts["score"], 6),
            lexical_rank=parts.get("lexical_rank"), lexical_score=parts.get("lexical_score"),
            vector_rank=parts.get("vector_rank"), vector_distance=parts.get("vector_distance"),
            source="faq" if faq_id else "document",
            document_id=document_id, document_title=document_title if document_id is not None else "FAQ",
            revision_number=revision_number, page=page, section=section, faq_id=faq_id,
        ))
    return results


# --- FAQ near-exact matching -----------------------------------------------------------------------

_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalize_question(text: str) -> str:
    """Lower-case, accents folded, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()


def _trigrams(normalized: str) -> set[str]:
    """pg_trgm's trigrams: each word padded with two spaces in front and one behind."""
    grams: set[str] = set()
    for word in normalized.split():
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm ``similarity()`` on normalised text: shared trigrams / all trigrams (0..1)."""
    ta, tb = _trigrams(normalize_question(a)), _trigrams(normalize_question(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def faq_match(*, workspace: Workspace, text: str, threshold: float | None = None) -> tuple[FaqEntry, float] | None:
    """The workspace's active FAQ whose question is (nearly) the incoming ``text``, for the no-LLM mode.

    Contract:
    - Compares normalised text (lower case, accents folded, punctuation and extra spaces removed):
      an identical normalised question scores 1.0 and is found through an index; otherwise the
      pg_trgm-style trigram similarity (computed in Python: the embedded Postgres ships no pg_trgm)
      against every active FAQ question of the workspace, which is fine for the hundreds to low
      thousands of FAQ entries a workspace has.
    - Returns ``(faq, similarity)`` for the best match with similarity ≥ ``threshold``
      (default ``KNOWLEDGE_FAQ_MATCH_THRESHOLD``, 0.75), ties broken by lowest id; otherwise None.
    - Never returns a FAQ of another workspace, or a deleted one.
    """
    threshold = settings.KNOWLEDGE_FAQ_MATCH_THRESHOLD if threshold is None else threshold
    normalized = normalize_question(text)
    if not normalized:
        return None
    active = FaqEntry.objects.filter(workspace=workspace, is_active=True)
    exact = active.filter(question_normalized=normalized).order_by("pk").first()
    if exact is not None:
        return exact, 1.0
    grams = _trigrams(normalized)
    best_id, best_score = None, 0.0
    for faq_id, question in active.order_by("pk").values_list("pk", "question_normalized"):
        other = _trigrams(question)
        if not other:
            continue
        score = len(grams & other) / len(grams | other)
        if score > best_score:
            best_id, best_score = faq_id, score
    if best_id is None or best_score < threshold:
        return None
    return active.get(pk=best_id), round(best_score, 4)


def knowledge_mentions(*, workspace: Workspace, needle: str, digits_only: bool = False) -> bool:
    """Whether any chunk of the workspace's knowledge base contains ``needle`` (case-insensitive).

    The outbound checks ask this for each link, e-mail address or phone number a draft carries, so
    it runs only for such drafts. ``digits_only`` compares phone numbers by their digits alone
    ("+1 (555) 010-2030" and "555 010 2030" both hold "5550102030"). A full scan of the workspace's
    chunks: fine for the rare reply that carries a contact detail.
    """
    needle = (needle or "").strip()
    if not needle:
        return False
    chunks = Chunk.objects.filter(workspace=workspace).order_by()
    if digits_only:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM knowledge_chunk WHERE workspace_id = %s "
                           "AND regexp_replace(text, '[^0-9]', '', 'g') LIKE %s)",
                           [workspace.pk, "%" + re.sub(r"\D", "", needle) + "%"])
            return bool(cursor.fetchone()[0])
    return chunks.filter(text__icontains=needle).exists()
