"""Reply pipeline benchmark: the pipeline's own overhead per reply, and throughput with a slow model.

    python bench/pipeline.py [--replies 200] [--delay 2.0] [--throughput-replies 2400] [--concurrency 256]

What it does, all on loopback:
1. Uses its own data directory (var/bench-pipeline): embedded Postgres (max_connections raised so
   every worker thread can hold one) and Redis, `migrate`, one workspace with an Instagram channel
   on the sandbox Graph stand-in (META_SANDBOX=1: sends are answered in-process and recorded),
   a few FAQs, and an Anthropic provider pointing at `FakeLLMServer` running in this process.
   The fake model answers the draft call with a grounded structured reply and the review call with
   "approve", so every reply goes the whole way: decide, retrieval, draft, memory, gate, review,
   confidence, finalize, act (outbound row), record, and the send through the Graph client.
2. (a) Overhead: in this process, with no model delay, runs the pipeline (which sends its reply
   inline after its commit) for `--replies` fresh inbound messages one after another, and
   subtracts the time spent inside the
   provider calls (the SDK request to the fake server) from each reply's wall time. What is left is
   Sidekick's own work: queries, quota reservation and usage rows, rules, prompt building, the send.
   Target: p50 <= 40 ms, p95 <= 100 ms.
3. (b) Throughput: starts a real Celery worker (`--pool threads -c N`, queues llm and default) and
   enqueues `--throughput-replies` reply tasks at once; the fake model answers every call (draft
   and review) after `--delay` seconds, i.e. 2 x delay of model wait per reply. Measures replies
   per second from the first enqueue to the last message sent. Target: >= 40 replies/s. Also
   reports CPU per reply of the workers, of this process (fake model, polling), of Postgres and
   Redis, and of the whole machine (/proc/stat: on a quiet machine, the real budget).
4. Stops the worker, Postgres and Redis it started, and deletes the data directory unless
   --keep-data. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
VAR_DIR = BASE_DIR / "var" / "bench-pipeline"

from bench.common import percentile, server_env  # noqa: E402 - after the path


def bench_env() -> dict:
    env = server_env(VAR_DIR, META_SANDBOX="1", LOG_FORMAT="text", LLM_TIMEOUT_SECONDS="30")
    if os.environ.get("BENCH_FERNET_KEY"):
        env["FIELD_ENCRYPTION_KEYS"] = os.environ["BENCH_FERNET_KEY"]
    env["BENCH_FERNET_KEY"] = env["FIELD_ENCRYPTION_KEYS"]
    # pgserver keeps a lock file in the runtime dir; keep it out of var/ so cleanup is complete.
    env["XDG_RUNTIME_DIR"] = env.get("BENCH_RUNTIME_DIR") or tempfile.mkdtemp(prefix="sidekick-bench-")
    env["BENCH_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    return env


def prepare_postgres(max_connections: int) -> None:
    """Start the bench's embedded Postgres with room for one connection per worker thread."""
    import psycopg

    from sidekick_project import embedded

    info = embedded.ensure_postgres(VAR_DIR)
    with psycopg.connect(host=info.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        current = int(conn.execute("SHOW max_connections").fetchone()[0])
        if current >= max_connections:
            return
        conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
    embedded.stop_postgres(VAR_DIR)
    embedded.ensure_postgres(VAR_DIR)


FAQS = [
    ("What are your opening hours?", "Monday to Saturday, 9am to 7pm."),
    ("How much is a session?", "A 60-minute session is $80; packs of 5 are $350."),
    ("Do you have parking?", "Free parking is available behind the building."),
    ("How do I book a session?", "To book a session, reply with a day and time and we will confirm."),
]
QUESTIONS = ["Hi! how much is a session?", "what are your opening hours on saturday?", "is there parking nearby?",
             "how do I book a session for friday?"]


def setup_data(fake, n_contacts: int):
    from accounts.models import Workspace
    from contacts.models import Contact
    from conversations.models import Thread
    from integrations.models import Channel
    from knowledge.services import faq_create

    suffix = str(int(time.time() * 1000))
    workspace = Workspace.objects.create(slug=f"bench-{suffix}", name="Glow Studio")
    channel = Channel.objects.create(workspace=workspace, platform="instagram", account_id=f"1784{suffix}",
                                     access_token="bench-token")
    for question, answer in FAQS:
        faq_create(workspace=workspace, question=question, answer=answer, actor=None, audit=False)
    fake.provider(workspace, kind="anthropic")
    # As every workspace with messages in production (the beat builds them): the insights message facts
    # kept, so each message written also pays the triggers that log it (insights.facts).
    from insights.facts import facts_refresh

    facts_refresh(workspace_id=workspace.pk)
    threads = []
    for n in range(n_contacts):
        contact = Contact.objects.create(workspace=workspace, channel=channel, external_id=f"9{suffix}{n:05d}")
        threads.append(Thread.objects.create(workspace=workspace, channel=channel, contact=contact))
    return workspace, channel, threads


def inbound(thread, text: str, n: int):
    from django.utils import timezone

    from contacts.models import Contact
    from conversations.models import Message, Thread

    now = timezone.now()
    message = Message.objects.create(workspace_id=thread.workspace_id, thread=thread, channel_id=thread.channel_id,
                                     mid=f"bench_in_{thread.pk}_{n}_{time.time_ns()}", direction="in",
                                     sender_kind="contact", text=text, sent_at=now)
    Thread.objects.filter(pk=thread.pk).update(last_inbound_at=now, last_message_at=now)
    Contact.objects.filter(pk=thread.contact_id).update(last_inbound_at=now)
    return message


def model_handler(delay: float):
    """An honest model: it answers from the first retrieved source (as a grounded reply would), cites it,
    approves its review, and the screening model finds nothing."""
    import re

    from testing.fake_llm import Reply

    source = re.compile(r'<source id="(K\d+)"[^>]*>\n(.*?)\n</source>', re.S)

    def handle(request):
        if request.schema_name == "review":
            return Reply.structured({"verdict": "approve", "reasons": ["grounded"]}, delay=delay)
        if request.schema_name == "screen":
            return Reply.structured({"flags": ["none"]}, delay=delay)
        found = source.search(request.system)
        cited, reply = [], "Thanks for your message! A teammate will confirm the details shortly."
        if found:
            cited = [found.group(1)]
            reply = "Hi! " + found.group(2).split("A: ", 1)[-1].strip()
        return Reply.structured({
            "reply": reply,
            "confidence": 0.95, "intent": "question", "stage": "engaged", "sentiment": "positive",
            "lead_score": 55, "human_requested": False, "cited_source_ids": cited,
            "memory_writes": []}, delay=delay)

    return handle


def measure_overhead(fake, replies: int, show_sql: bool = False) -> dict:
    from conversations.models import Decision
    from conversations.pipeline.engine import reply_pipeline_run
    from integrations.llm import adapters

    _, _, threads = setup_data(fake, n_contacts=replies + 21)
    fake.handler = model_handler(0.0)
    spent = threading.local()
    original = adapters.complete

    def timed_complete(config, params):
        started = time.perf_counter()
        try:
            return original(config, params)
        finally:
            spent.llm += time.perf_counter() - started

    adapters.complete = timed_complete
    overheads, totals, llm_waits, cpus, decisions = [], [], [], [], {}

    def one_reply(message):
        spent.llm = 0.0
        started, cpu_started = time.perf_counter(), time.thread_time()
        draft = reply_pipeline_run(message_id=message.pk)  # sends inline, after its commit
        total, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        decisions[draft.decision if draft else "skipped"] = decisions.get(draft.decision if draft else "skipped", 0) + 1
        return total, cpu

    try:
        for n, thread in enumerate(threads[:-1]):
            total, cpu = one_reply(inbound(thread, QUESTIONS[n % len(QUESTIONS)], n))
            if n < 20:
                continue  # warm-up: imports, connections, SDK clients, plan caches
            totals.append(total * 1000)
            llm_waits.append(spent.llm * 1000)
            overheads.append((total - spent.llm) * 1000)
            cpus.append(cpu * 1000)
        # One more reply, not timed: the SQL statements it sends, pipeline and send (autocommit, as in
        # production; BEGIN and COMMIT included).
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        message = inbound(threads[-1], QUESTIONS[0], len(threads))
        with CaptureQueriesContext(connection) as queries:
            one_reply(message)
        if show_sql:
            for n, query in enumerate(queries.captured_queries, 1):
                print(f"{n:3d} {query['time']:>6} {query['sql'][:300]}", flush=True)
    finally:
        adapters.complete = original
    sent = decisions.get(Decision.SENT, 0)
    return {"replies": len(overheads), "decisions": decisions, "sent": sent,
            "overhead_p50_ms": round(statistics.median(overheads), 1),
            "overhead_p95_ms": round(percentile(overheads, 95), 1),
            "overhead_max_ms": round(max(overheads), 1),
            "llm_wait_p50_ms": round(statistics.median(llm_waits), 1),
            "cpu_p50_ms": round(statistics.median(cpus), 1),
            "sql_statements_per_reply": len(queries),
            "total_p50_ms": round(statistics.median(totals), 1)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU time all cores spent not idle so far (Linux /proc/stat; 0 elsewhere): every process counts."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _service_cpu() -> dict[int, float]:
    """CPU so far of the bench's Postgres (postmaster, its backends, those that exited) and Redis, by pid."""
    from sidekick_project import embedded

    postmaster = embedded._postmaster(VAR_DIR / "postgres")
    roots = {postmaster[0] if postmaster else None, embedded._redis_pid(VAR_DIR)} - {None}
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid in roots or ppid in roots:
            ticks = int(fields[11]) + int(fields[12])
            if pid in roots:  # and its children that have exited (a closed connection's backend)
                ticks += int(fields[13]) + int(fields[14])
            found[pid] = ticks / os.sysconf("SC_CLK_TCK")
    return found


def _steady_rate(progress: list[tuple[float, int]], replies: int) -> float | None:
    """Replies per second while the pipeline is full: from 10% to 90% of the replies sent.

    `replies_per_second` counts from the first enqueue, so it includes the first reply's own latency
    (2 x delay of model wait) during which nothing can be sent; this rate leaves the ramp out.
    """
    low = next(((t, n) for t, n in progress if n >= 0.1 * replies), None)
    high = next(((t, n) for t, n in progress if n >= 0.9 * replies), None)
    if low is None or high is None or high[0] <= low[0]:
        return None
    return round((high[1] - low[1]) / (high[0] - low[0]), 1)


def measure_throughput(fake, env: dict, replies: int, delay: float, concurrency: int, timeout: float,
                       processes: int) -> dict:
    from conversations.models import Message, SendStatus
    from conversations.replies import reply_enqueue

    workspace, _, threads = setup_data(fake, n_contacts=replies)
    fake.handler = model_handler(delay)
    log = open(VAR_DIR / "worker.log", "wb")  # noqa: SIM115 - closed below
    per_process = max(1, concurrency // processes)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "llm,default", "-n",
         f"bench-llm-{os.getpid()}-{i}@%h", "--pool", "threads", "-c", str(per_process), "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    ) for i in range(processes)]
    try:
        time.sleep(4)  # worker boot; a warm-up batch below absorbs the rest
        messages = [inbound(thread, QUESTIONS[n % len(QUESTIONS)], n) for n, thread in enumerate(threads)]
        workers_cpu_before = sum(_cpu_seconds(worker.pid) for worker in workers)
        harness_cpu_before = time.process_time()
        services_before, machine_before = _service_cpu(), _machine_busy_seconds()
        started = time.perf_counter()
        for message in messages:
            reply_enqueue(message_id=message.pk, countdown=0)
        enqueued = time.perf_counter() - started
        progress: list[tuple[float, int]] = []  # (seconds since the first enqueue, replies sent)
        deadline = started + timeout
        done = 0
        while time.perf_counter() < deadline:
            done = Message.objects.filter(workspace=workspace, direction="out", send_status=SendStatus.SENT).count()
            progress.append((time.perf_counter() - started, done))
            if done >= replies:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        harness_cpu = time.process_time() - harness_cpu_before
        workers_cpu = sum(_cpu_seconds(worker.pid) for worker in workers) - workers_cpu_before
        machine_busy = _machine_busy_seconds() - machine_before
        services_after = _service_cpu()
        services_cpu = sum(cpu - services_before.get(pid, 0.0) for pid, cpu in services_after.items())
        requests = len(fake.requests)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        log.close()
    from conversations.models import ReplyDraft

    decisions = {}
    for decision in ReplyDraft.objects.filter(workspace=workspace).values_list("decision", flat=True):
        decisions[decision] = decisions.get(decision, 0) + 1
    return {"replies": replies, "sent": done, "seconds": round(elapsed, 2), "enqueue_seconds": round(enqueued, 2),
            "replies_per_second": round(done / elapsed, 1),
            "steady_replies_per_second": _steady_rate(progress, replies), "model_delay_per_call_s": delay,
            "model_wait_per_reply_s": 2 * delay, "worker_threads": per_process * processes,
            "worker_processes": processes, "model_calls": requests,
            # CPU used during the measurement: the Celery workers, and this process (fake model + polling).
            "worker_cpu_ms_per_reply": round(1000 * workers_cpu / max(done, 1), 1),
            "harness_cpu_ms_per_reply": round(1000 * harness_cpu / max(done, 1), 1),
            # Postgres (postmaster and backends alive at the end) and Redis; and every core's busy
            # time, whatever ran (on a quiet machine: all of the above plus the kernel).
            "postgres_redis_cpu_ms_per_reply": round(1000 * services_cpu / max(done, 1), 1),
            "machine_cpu_ms_per_reply": round(1000 * machine_busy / max(done, 1), 1),
            "decisions": decisions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=200, help="(a) replies measured one by one")
    parser.add_argument("--delay", type=float, default=2.0, help="(b) model delay per call, seconds")
    # 2,400: long enough that the first 4 s (nothing can be sent yet) and the first wave's set-up weigh
    # little in the rate from the first enqueue (BENCHMARKS.md, "Sustained run").
    parser.add_argument("--throughput-replies", type=int, default=2400)
    parser.add_argument("--concurrency", type=int, default=256, help="(b) worker threads on the llm queue, in all")
    parser.add_argument("--processes", type=int, default=2, help="(b) worker processes sharing those threads")
    parser.add_argument("--timeout", type=float, default=300, help="(b) upper bound on the run, seconds")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep var/bench-pipeline after the run")
    parser.add_argument("--profile", action="store_true", help="(a) print where the overhead goes (cProfile)")
    parser.add_argument("--profile-sort", default="cumulative", help="(a) pstats sort key, e.g. tottime")
    parser.add_argument("--show-sql", action="store_true", help="(a) print the SQL statements of one reply")
    args = parser.parse_args()

    env = bench_env()
    os.environ.update(env)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    from sidekick_project import embedded

    try:
        prepare_postgres(max_connections=args.concurrency + 80)
        subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=BASE_DIR, env=env,
                       check=True, timeout=300)
        import django

        django.setup()
        from testing.fake_llm import FakeLLMServer

        summary = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                   "load_average_at_start": os.getloadavg()}
        with FakeLLMServer() as fake:
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
            summary["overhead"] = measure_overhead(fake, args.replies, show_sql=args.show_sql)
            if args.profile:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(args.profile_sort).print_stats(45)
            print("(a)", json.dumps(summary["overhead"]), flush=True)
            if not args.skip_throughput:
                fake.reset()
                summary["throughput"] = measure_throughput(fake, env, args.throughput_replies, args.delay,
                                                           args.concurrency, args.timeout, args.processes)
                print("(b)", json.dumps(summary["throughput"]), flush=True)
        from django.db import connections

        connections.close_all()
    finally:
        embedded.stop(VAR_DIR)
        if not args.keep_data:
            shutil.rmtree(VAR_DIR, ignore_errors=True)
            shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)
    print(json.dumps(summary, indent=2))
    overhead = summary["overhead"]
    ok = overhead["overhead_p50_ms"] <= 40 and overhead["overhead_p95_ms"] <= 100
    if "throughput" in summary:
        ok = ok and summary["throughput"]["replies_per_second"] >= 40
    print("targets (overhead p50 <= 40 ms, p95 <= 100 ms; >= 40 replies/s):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
