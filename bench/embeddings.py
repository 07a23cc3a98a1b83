"""Local embedding throughput (all-MiniLM-L6-v2, integrations.embeddings.local) at the real chunk size.

The chunks are what ingestion embeds: English prose (the sample studio's sentences, shuffled into
paragraphs) cut by knowledge.chunking with KNOWLEDGE_CHUNK_CHARS / _OVERLAP_CHARS, each prefixed with
its title › section as ingestion does. Reports chunks/s (median of --runs) for several batch sizes and
thread counts, with onnxruntime's thread spinning off (the runtime's setting) and on (onnxruntime's
default), then the graph optimisation levels at the runtime's thread count; with the machine's cores
and load average: the figure depends on both. Each configuration is a fresh session built by
``local.session_new``; batches go through ``local.embed_batch`` in length-sorted order as ingestion does.

    .venv/bin/python bench/embeddings.py [--chunks 256] [--runs 3] [--quick]

Prints a Markdown block for BENCHMARKS.md. No database needed.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidekick_project.settings_test")


def realistic_chunks(count: int) -> list[str]:
    from django.conf import settings

    from knowledge.chunking import chunk_blocks
    from knowledge.extraction import Block
    from knowledge.samples import SAMPLES_DIR
    from knowledge.services.chunks import embedding_input

    text = " ".join((SAMPLES_DIR / name).read_text() for name in
                    ("harbor-studio-pricing.md", "harbor-studio-policies.md", "pdf_source.txt"))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"[#*\-]+", " ", text)) if len(s.strip()) > 30]
    rng = random.Random(42)
    drafts = []
    section = 0
    while len(drafts) < count:
        section += 1
        paragraphs = [" ".join(rng.sample(sentences, 5)) for _ in range(6)]
        blocks = [Block(text=p, page=None, section=f"Section {section}") for p in paragraphs]
        drafts += chunk_blocks(blocks, title="Studio handbook", target=settings.KNOWLEDGE_CHUNK_CHARS,
                               overlap=settings.KNOWLEDGE_CHUNK_OVERLAP_CHARS)
    return [embedding_input(d.context, d.text) for d in drafts[:count]]


def rate(session, texts: list[str], batch: int, runs: int) -> list[float]:
    from integrations.embeddings import local

    ordered = sorted(texts, key=len, reverse=True)  # as LocalEmbeddings does: less padding
    local.embed_batch(session, ordered[:batch])  # warm up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for start in range(0, len(ordered), batch):
            local.embed_batch(session, ordered[start:start + batch])
        rates.append(len(texts) / (time.perf_counter() - started))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="batch 32 only, and no optimisation-level rows")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from integrations.embeddings import local

    texts = realistic_chunks(args.chunks)
    tokenizer, _ = local._model()
    pieces = sorted(len(tokenizer.encode(t).ids) for t in texts)
    chars = sorted(len(t) for t in texts)
    cores = len(os.sched_getaffinity(0))
    print(f"{len(texts)} chunks: median {statistics.median(chars):.0f} characters, "
          f"median {statistics.median(pieces):.0f} word pieces (max {pieces[-1]}); "
          f"KNOWLEDGE_CHUNK_CHARS={settings.KNOWLEDGE_CHUNK_CHARS}")
    print(f"machine: {platform.machine()}, {cores} cores available (nproc), "
          f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    batches = (32,) if args.quick else (16, 32, 64)
    configs = [(threads, spinning, "all", batch) for spinning in (False, True) for threads in sorted({1, cores})
               for batch in batches]
    if not args.quick:
        configs += [(cores, False, level, 32) for level in ("extended", "basic")]
    rows = []
    for threads, spinning, level, batch in configs:
        session = local.session_new(threads=threads, spinning=spinning, optimization=level)
        rates = rate(session, texts, batch, args.runs)
        rows.append((threads, spinning, level, batch, statistics.median(rates)))
        print(f"threads {threads}, spinning {'on' if spinning else 'off'}, optimisation {level}, batch {batch}: "
              f"{statistics.median(rates):.1f} chunks/s (runs {' '.join(f'{r:.1f}' for r in rates)}; "
              f"load {os.getloadavg()[0]:.1f})", flush=True)
    # Short sentences, for comparison with sentence-level figures: the batch session, and one query at a
    # time on the query session (what a reply's retrieval does).
    short = ["What do I owe for one class?"] * 256
    session = local.session_new(threads=cores)
    local.embed_batch(session, short[:64])
    started = time.perf_counter()
    for start in range(0, len(short), 64):
        local.embed_batch(session, short[start:start + 64])
    batched = len(short) / (time.perf_counter() - started)
    singles = []
    # One query at a time with a pause between them (as replies come): the 1-thread query session,
    # and the session the runtime used for queries before (every core, spinning on, onnxruntime's default).
    for label, threads, spinning in (("1-thread query session", 1, False),
                                     (f"{cores} threads, spinning on (before)", cores, True)):
        session = local.session_new(threads=threads, spinning=spinning)
        local.embed_batch(session, short[:1])
        cpu, wall = 0.0, 0.0
        for text in short[:64]:
            time.sleep(0.01)
            cpu_start, started = time.process_time(), time.perf_counter()
            local.embed_batch(session, [text])
            time.sleep(0.01)  # spinning pool threads keep burning CPU after the run returns
            cpu += time.process_time() - cpu_start
            wall += time.perf_counter() - started - 0.01
        singles.append(f"{label}: {wall / 64 * 1000:.1f} ms wall, {cpu / 64 * 1000:.1f} ms CPU per query "
                       f"(incl. the 10 ms after it)")
    print(f"short sentences (9 word pieces), threads {cores}, batch 64: {batched:.0f}/s")
    for line in singles:
        print(f"  one at a time, {line}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    best = max(rows, key=lambda row: row[4])
    print(f"\nbest: {best[4]:.1f} chunks/s (threads {best[0]}, spinning {'on' if best[1] else 'off'}, "
          f"optimisation {best[2]}, batch {best[3]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
