"""Per-workspace partial HNSW indexes: why, and how they are managed.

pgvector 0.6 applies a ``WHERE workspace_id = ...`` filter *after* the HNSW scan: with one global
index, a query walks the graph of every tenant, gets ``hnsw.ef_search`` candidates (100 by
default), and throws away those of other workspaces. A workspace holding 10% of the rows keeps
~10 of them, so its recall collapses, and it gets worse as other tenants grow. That is both a
quality bug and a cross-tenant performance coupling.

Choice (measured in BENCHMARKS.md, ``bench/retrieval.py``):

- below ``KNOWLEDGE_HNSW_MIN_CHUNKS`` chunks for its current model, a workspace's vector search is
  an **exact scan** of its own rows (btree on ``(workspace_id, embedding_model)``): recall 1.0, and
  a few milliseconds at that size;
- at or above it, the workspace gets its **own partial HNSW index**
  ``... USING hnsw ((embedding::vector(D)) vector_cosine_ops) WHERE workspace_id = W AND
  embedding_model = 'M' AND embedding_dimension = D``. The graph holds only that workspace's rows, so
  no candidate is filtered away and other tenants cannot affect its recall or latency.

Partitioning by workspace would give the same isolation but needs every tenant's partition to be
created up front and complicates the Django model (no partitioned-table support, no FKs into it);
partial indexes are plain DDL that a Celery task creates ``CONCURRENTLY`` when a workspace crosses
the threshold. The untyped ``vector`` column lets workspaces use different dimensions; the index is
on the cast expression, and queries repeat the exact same expression with literal predicates so
the planner can match the partial index.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.db import connection

from accounts.models import Workspace
from knowledge.models import Chunk, VectorIndex

logger = logging.getLogger(__name__)

HNSW_MAX_DIMENSION = 2000  # pgvector 0.6 cannot build HNSW on wider `vector` columns


def sql_literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings is on in every supported Postgres)."""
    return "'" + value.replace("'", "''") + "'"


def index_name(*, workspace_id: int, model: str, dimension: int) -> str:
    digest = hashlib.sha256(f"{model}\x1f{dimension}".encode()).hexdigest()[:10]
    return f"kchunk_hnsw_w{workspace_id}_{digest}"


def index_predicate(*, workspace_id: int, model: str, dimension: int) -> str:
    return (f"workspace_id = {int(workspace_id)} AND embedding_model = {sql_literal(model)} "
            f"AND embedding_dimension = {int(dimension)}")


def vector_index_ensure(*, workspace_id: int, model: str, dimension: int, force: bool = False) -> str | None:
    """Create the workspace's partial HNSW index when it has enough chunks; returns its name or None.

    Must run outside a transaction (CREATE INDEX CONCURRENTLY): call it from a task, not a request.
    """
    if not model or dimension <= 0 or dimension > HNSW_MAX_DIMENSION:
        return None
    name = index_name(workspace_id=workspace_id, model=model, dimension=dimension)
    if VectorIndex.objects.filter(name=name).exists():
        return name
    count = Chunk.objects.filter(workspace_id=workspace_id, embedding_model=model,
                                 embedding_dimension=dimension).count()
    if count < settings.KNOWLEDGE_HNSW_MIN_CHUNKS and not force:
        return None
    predicate = index_predicate(workspace_id=workspace_id, model=model, dimension=dimension)
    with connection.cursor() as cursor:
        # A previous interrupted CONCURRENTLY build leaves an invalid index behind; drop it first.
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        cursor.execute(
            f"CREATE INDEX CONCURRENTLY {name} ON knowledge_chunk "
            f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
            f"WITH (m = 16, ef_construction = 64) WHERE {predicate}"
        )
    VectorIndex.objects.get_or_create(
        name=name, defaults={"workspace_id": workspace_id, "embedding_model": model, "embedding_dimension": dimension}
    )
    logger.info("created vector index %s for %s chunks", name, count)
    return name


def fts_index_name(*, workspace_id: int) -> str:
    return f"kchunk_fts_w{int(workspace_id)}"


def fts_index_ensure(*, workspace_id: int, force: bool = False) -> str | None:
    """A per-workspace partial GIN index on the tsvector, for workspaces above the same threshold.

    With only the global GIN index, a large tenant's lexical query intersects the posting lists of
    every tenant with a bitmap of its own 100k rows (half the query time in the benchmark); the
    partial index holds only its rows. Outside a transaction only (CONCURRENTLY).
    """
    name = fts_index_name(workspace_id=workspace_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        if cursor.fetchone():
            return name
    if not force and Chunk.objects.filter(workspace_id=workspace_id).count() < settings.KNOWLEDGE_HNSW_MIN_CHUNKS:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        cursor.execute(f"CREATE INDEX CONCURRENTLY {name} ON knowledge_chunk USING gin (search_vector) "
                       f"WHERE workspace_id = {int(workspace_id)}")
    logger.info("created full-text index %s", name)
    return name


def vector_indexes_drop_stale(*, workspace_id: int, keep_model: str, keep_dimension: int) -> list[str]:
    """Drop the workspace's indexes for models it no longer uses (after a model change)."""
    dropped = []
    for index in VectorIndex.objects.filter(workspace_id=workspace_id):
        if index.embedding_model == keep_model and index.embedding_dimension == keep_dimension:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")
        index.delete()
        dropped.append(index.name)
    return dropped


# Partial indexes are named after their workspace (index_name, fts_index_name); nothing else on
# knowledge_chunk uses these prefixes.
_WORKSPACE_INDEX = re.compile(r"^kchunk_(?:hnsw|fts)_w(\d+)(?:_[0-9a-f]+)?$")


def workspace_partial_indexes() -> dict[int, list[str]]:
    """Every per-workspace partial index that exists in the database, by workspace id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_chunk' "
                       "AND (indexname LIKE 'kchunk\\_hnsw\\_w%' OR indexname LIKE 'kchunk\\_fts\\_w%')")
        names = [row[0] for row in cursor.fetchall()]
    found: dict[int, list[str]] = {}
    for name in names:
        match = _WORKSPACE_INDEX.match(name)
        if match:
            found.setdefault(int(match.group(1)), []).append(name)
    return found


def indexes_drop_for_deleted_workspaces(*, workspace_id: int | None = None) -> list[str]:
    """Drop the partial indexes of deleted workspaces (one, or all of them); returns the names dropped.

    A deleted workspace's chunks and VectorIndex rows go with it (cascade), but its indexes are DDL
    and stay until dropped here. Never touches a workspace that still exists. Outside a transaction
    only (DROP INDEX CONCURRENTLY: retrieval of other workspaces is never blocked).
    """
    indexes = workspace_partial_indexes()
    if workspace_id is not None:
        indexes = {workspace_id: indexes.get(workspace_id, [])}
    existing = set(Workspace.objects.filter(pk__in=list(indexes)).values_list("pk", flat=True))
    dropped = []
    for owner, names in sorted(indexes.items()):
        if owner in existing:
            continue
        for name in names:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            dropped.append(name)
        VectorIndex.objects.filter(workspace_id=owner).delete()  # normally gone already (cascade)
    if dropped:
        logger.info("dropped partial indexes of deleted workspaces: %s", ", ".join(dropped))
    return dropped
