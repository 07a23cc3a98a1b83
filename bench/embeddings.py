"""Local embedding throughput (all-MiniLM-L6-v2, integrations.embeddings.local) at the real chunk size.

The chunks are what ingestion embeds: English prose (the sample studio's sentences, shuffled into
paragraphs) cut by knowledge.chunking with KNOWLEDGE_CHUNK_CHARS / _OVERLAP_CHARS, each prefixed with
its title › section as ingestion does. Reports chunks/s (median of --runs) for several batch sizes and
thread counts, with the machine's cores and load average: the figure depends on both.

    .venv/bin/python bench/embeddings.py [--chunks 256] [--runs 3]

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from integrations.embeddings import local

    texts = realistic_chunks(args.chunks)
    tokenizer, _ = local._runtime()
    pieces = sorted(len(tokenizer.encode(t).ids) for t in texts)
    chars = sorted(len(t) for t in texts)
    cores = len(os.sched_getaffinity(0))
    print(f"{len(texts)} chunks: median {statistics.median(chars):.0f} characters, "
          f"median {statistics.median(pieces):.0f} word pieces (max {pieces[-1]}); "
          f"KNOWLEDGE_CHUNK_CHARS={settings.KNOWLEDGE_CHUNK_CHARS}")
    print(f"machine: {platform.machine()}, {cores} cores available (nproc), "
          f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    rows = []
    for threads in sorted({1, cores}):
        local._runtime.cache_clear()
        settings.KNOWLEDGE_EMBEDDING_THREADS = threads
        local._runtime()
        for batch in (16, 32, 64):
            provider = local.LocalEmbeddings(max_batch=batch)
            provider.embed(texts[:batch])  # warm up
            rates = []
            for _ in range(args.runs):
                started = time.perf_counter()
                provider.embed(texts)
                rates.append(len(texts) / (time.perf_counter() - started))
            rows.append((threads, batch, statistics.median(rates), min(rates), max(rates)))
            print(f"threads {threads}, batch {batch}: {statistics.median(rates):.1f} chunks/s "
                  f"(runs {' '.join(f'{r:.1f}' for r in rates)})", flush=True)
    # Short sentences, for comparison with sentence-level figures.
    provider = local.LocalEmbeddings(max_batch=64)
    short = ["What do I owe for one class?"] * 256
    provider.embed(short[:64])
    started = time.perf_counter()
    provider.embed(short)
    sentences_per_second = len(short) / (time.perf_counter() - started)
    print(f"short sentences (9 word pieces), threads {cores}, batch 64: {sentences_per_second:.0f}/s")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    best = max(rows, key=lambda row: row[2])
    print(f"\nbest: {best[2]:.1f} chunks/s (threads {best[0]}, batch {best[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
