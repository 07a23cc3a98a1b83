"""Eval run benchmark: `python bench/evals.py [--cases 200] [--delay 1.0] [--runs 3] [--no-write]`.

Scores `--cases` eval cases with `evals.services.eval_run_score` (the real loop: budget reservations,
the LLM gateway with the run's quota reservation and a usage row per call, the OpenAI SDK over
loopback HTTP, the result rows, the metrics) against `FakeLLMServer` answering every judge call after `--delay` seconds,
in this process, on its own embedded Postgres under var/bench-evals/ (never dev or test data).

Measures, per run (median of `--runs`):
- the wall time of the whole run (target: 200 cases in ≤ 30 s at 1 s per judgement);
- the loop's own overhead per case, two ways: (a) each case's time in its pool thread minus the
  fake's delay (everything Sidekick does around the HTTP wait: estimate, budget, gateway, SDK, the
  loopback HTTP and the fake server's own work, which runs in this process), median and p95; (b) (wall − cases × delay ÷ workers) × workers ÷ cases, which also
  charges the main thread's row writes and the metrics (target: ≤ 20 ms);
- this process's CPU time per case (all threads; the fake server's included), which a busy machine
  inflates far less than the wall-clock figures.
Results go to BENCHMARKS.md under "## Evals" unless --no-write. The Postgres it started is stopped.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import in_process_env, percentile  # noqa: E402 - after the path

in_process_env(ROOT / "var" / "bench-evals")

TARGET_TOTAL_S, TARGET_OVERHEAD_MS = 30.0, 20.0
CONTEXT = [{"role": "customer", "text": "Hi! Do you have a slot on Friday afternoon for a first visit?"},
           {"role": "business", "text": "Hi [name], yes we do. Is it for a consultation or a treatment?"},
           {"role": "customer", "text": "A consultation please, I can't do mornings. How much is it?"}]
SENT = "A consultation is 45 minutes and costs 60 EUR. Would Friday at 3pm or 4:30pm suit you?"


def grade(request) -> dict:
    overall = 5 if "3pm" in request.last_user_text else 2
    return {"relevance": overall, "clarity": overall, "next_step": overall, "tone": 4, "safety": 5,
            "overall": overall, "reason": "bench"}


def setup():
    """The bench workspace and a done report for the runs to hang on (the cases are made directly: the
    loop under test is the scoring, not the case building)."""
    from accounts.models import Workspace
    from evals.models import EvalRun
    from insights.models import Report, ReportStatus

    workspace, _ = Workspace.objects.get_or_create(slug="bench-evals", defaults={"name": "Bench evals"})
    EvalRun.objects.filter(workspace=workspace).delete()
    now = datetime.now(UTC)
    report = Report.objects.filter(workspace=workspace).first() or Report.objects.create(
        workspace=workspace, window_start=now - timedelta(days=7), window_end=now, as_of=now, metrics={},
        status=ReportStatus.DONE,
        finished_at=now, progress=100)
    return workspace, report


def one_run(*, workspace, report, cases: int, delay: float) -> dict:
    from evals import services
    from evals.models import EvalCase, EvalRun, EvalStatus, Split
    from testing.fake_llm import FakeLLMServer, Reply

    timings: list[float] = []
    lock = threading.Lock()
    original = services._judge_one

    def timed(**kwargs):
        started = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            with lock:
                timings.append(time.perf_counter() - started)

    with FakeLLMServer(handler=lambda request: Reply.structured(grade(request), delay=delay,
                                                                input_tokens=600, output_tokens=60)) as fake:
        from integrations.llm.models import LLMProvider, LLMUsage

        LLMUsage.objects.filter(workspace=workspace).delete()  # the day's quota starts afresh each run
        LLMProvider.objects.filter(workspace=workspace).delete()
        provider = fake.provider(workspace, kind="openai")
        run = EvalRun.objects.create(workspace=workspace, report=report, budget_tokens=10_000_000,
                                     judge_model="gpt-4o-mini", judge_prompt_version="bench",
                                     judge_parameters={"temperature": 0.0})
        EvalCase.objects.bulk_create([
            EvalCase(run=run, message_id=i, person_key=f"p{i}", split=Split.HELD_OUT if i % 5 == 0 else Split.TRAIN,
                     outcome="booked" if i % 3 == 0 else "not_booked", context=CONTEXT,
                     sent_text=SENT if i % 2 else SENT.replace("3pm", "three")) for i in range(cases)])
        services._judge_one = timed
        try:
            started, cpu = time.perf_counter(), time.process_time()
            run = services.eval_run_score(run=run)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            services._judge_one = original
        requests = len(fake.requests)
    workers = services.workers_for(provider)
    assert run.status == EvalStatus.DONE and run.metrics["scored"] == cases, (run.status, run.metrics)
    assert requests == cases
    per_case_ms = [(t - delay) * 1000 for t in timings]
    return {"wall": wall, "workers": workers, "p50": percentile(per_case_ms, 50), "p95": percentile(per_case_ms, 95),
            "amortised": (wall - cases * delay / workers) * workers / cases * 1000, "cpu": cpu / cases * 1000}


def write_markdown(results: dict) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    section = "## Evals"
    block = f"""{section}

`python bench/evals.py` ({results['date']}, {results['machine']}, load average {results['load_before']} before,
{results['load_after']} after; embedded Postgres, the fake judge on loopback). `evals.services.eval_run_score`
scores {results['cases']} cases, the judge answering each call after {results['delay']:g} s, through the real
gateway (one quota reservation for the run, a usage row per call written in bulk) and the OpenAI SDK;
{results['workers']} concurrent calls (a hosted provider's `evals.services.workers_for`). Medians of {results['runs']} runs.

| | median | runs | target |
|---|---|---|---|
| wall time, {results['cases']} cases | {results['wall']:.1f} s | {results['walls']} | ≤ {TARGET_TOTAL_S:.0f} s |
| loop overhead per case, in its thread (p50 / p95) | {results['p50']:.1f} / {results['p95']:.1f} ms | {results['p50s']} | ≤ {TARGET_OVERHEAD_MS:.0f} ms |
| loop overhead per case, amortised (wall − cases × delay ÷ workers) × workers ÷ cases | {results['amortised']:.1f} ms | {results['amortiseds']} | ≤ {TARGET_OVERHEAD_MS:.0f} ms |
| CPU time of this process per case (all threads, the fake server's included) | {results['cpu']:.1f} ms | {results['cpus']} | |

"In its thread" is a case's time in its pool thread minus the fake's delay: the estimate, the budget,
the gateway (no database round trip: the call draws from the run's reservation), the SDK, the loopback
HTTP and the fake's own work (same process). "Amortised" also charges the main thread's row writes,
the pool's start and the metrics (AUC bootstrap) at the end. The wall time is
bounded below by cases × delay ÷ workers = {results['cases'] * results['delay'] / results['workers']:.0f} s.
"""
    if section in text:
        start = text.index(section)
        following = text.find("\n## ", start + len(section))
        text = text[:start] + block + ("\n" + text[following + 1:] if following != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the bench Postgres running")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    try:
        call_command("migrate", verbosity=0)
        workspace, report = setup()
        for i in range(args.runs):
            row = one_run(workspace=workspace, report=report, cases=args.cases, delay=args.delay)
            rows.append(row)
            print(f"run {i + 1}: {row['wall']:.2f} s wall with {row['workers']} workers; overhead per case "
                  f"p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms in its thread, {row['amortised']:.1f} ms "
                  f"amortised, {row['cpu']:.1f} ms CPU", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep and "postgres" in getattr(settings, "EMBEDDED_STARTED", []):
            from sidekick_project import embedded

            embedded.stop_postgres(settings.VAR_DIR)
            print("stopped the bench Postgres", flush=True)

    def med(key):
        return statistics.median(r[key] for r in rows)

    def each(key, fmt):
        return ", ".join(format(r[key], fmt) for r in rows)

    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cases": args.cases, "delay": args.delay,
        "runs": args.runs, "workers": rows[0]["workers"],
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_before": load_before, "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "wall": med("wall"), "walls": each("wall", ".1f"), "p50": med("p50"), "p95": med("p95"),
        "p50s": each("p50", ".1f"), "amortised": med("amortised"), "amortiseds": each("amortised", ".1f"),
        "cpu": med("cpu"), "cpus": each("cpu", ".1f"),
    }
    ok = results["wall"] <= TARGET_TOTAL_S and results["amortised"] <= TARGET_OVERHEAD_MS
    print(f"median: {results['wall']:.1f} s wall, overhead {results['p50']:.1f} ms (thread p50), "
          f"{results['amortised']:.1f} ms (amortised): {'met' if ok else 'NOT met'}")
    if not args.no_write:
        write_markdown(results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
