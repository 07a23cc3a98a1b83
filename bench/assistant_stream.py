"""Assistant streaming benchmark: from the provider's first streamed token to its first byte at the reader.

    python bench/assistant_stream.py [--streams 50] [--rounds 3] [--chunks 60] [--chunk-delay 0.025]

What it does, all on loopback:
1. Uses its own data directory (var/bench-stream, removed afterwards): embedded Postgres and Redis,
   `migrate`, one workspace with `--streams` setters, each logged in (a session row, as after a login),
   and an Anthropic provider pointing at `FakeLLMServer` in this process. The fake model streams each
   answer over HTTP as the real API does (server-sent events, chunked), `--chunks` pieces
   `--chunk-delay` apart after a first-token delay, and notes when it wrote each piece (time.monotonic).
2. Starts the real components as `make run` does: the stream server (`runner.stream_command`: uvicorn,
   sidekick_project.asgi_stream) and Celery workers on the `llm` queue (threads pool, one thread per
   stream in all, over `--worker-processes` processes; `make run` has one process of 16 threads).
3. Each round: every user asks a question at once (`assistant_ask`: the question row, the streaming
   answer row, the task on Redis), and an HTTP reader per answer connects to the stream endpoint with the
   user's session cookie, as the browser's EventSource does. The worker's SDK streams the fake model's
   answer, each piece is added to the answer's Redis stream and relayed by the stream server. The readers
   run in a child process (asyncio, raw HTTP/1.1), not behind this process's GIL. For each answer: (time the reader's socket delivered the first piece) - (time the fake model wrote it),
   one clock (the same process). Also every piece (when the event holding it arrived: the worker coalesces
   the pieces after the first), and that each reader got the whole answer, exact, and its end.
4. Reports p50/p95 per round and overall; target: first piece p95 <= 50 ms. Stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
VAR_DIR = BASE_DIR / "var" / "bench-stream"

from bench.common import percentile, server_env  # noqa: E402 - after the path

MARKER = re.compile(r"bench-stream-(\d+)-(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env() -> dict:
    # No query embedding in the answers' grounding (lexical knowledge search only): the local model's CPU
    # per question is bench/embeddings.py's subject, and here it would only starve the streams on 2 cores.
    env = server_env(VAR_DIR, LOG_FORMAT="text", LLM_TIMEOUT_SECONDS="30", KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER="none")
    env["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="sidekick-bench-")  # pgserver's lock file, out of var/
    return env


def prepare_postgres(max_connections: int) -> None:
    """The bench's embedded Postgres with room for a connection per worker thread (as bench/pipeline.py)."""
    import psycopg

    from sidekick_project import embedded

    info = embedded.ensure_postgres(VAR_DIR)
    with psycopg.connect(host=info.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        if int(conn.execute("SHOW max_connections").fetchone()[0]) >= max_connections:
            return
        conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
    embedded.stop_postgres(VAR_DIR)
    embedded.ensure_postgres(VAR_DIR)


def setup(fake, streams: int):
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import Membership, Role, User, Workspace
    from accounts.tenancy import SESSION_KEY as WORKSPACE_SESSION_KEY
    from integrations.llm.models import LLMQuotaPolicy

    suffix = str(int(time.time() * 1000))
    workspace = Workspace.objects.create(slug=f"bench-{suffix}", name="Stream bench")
    # No limits: the bench measures streaming, not the quota refusal.
    LLMQuotaPolicy.objects.create(workspace=workspace, setter_daily=None, setter_monthly=None, admin_daily=None,
                                  admin_monthly=None, workspace_daily=None, workspace_monthly=None)
    fake.provider(workspace, kind="anthropic")
    users = []
    for n in range(streams):
        user = User.objects.create_user(email=f"setter{n}-{suffix}@bench.example", password=None)
        Membership.objects.create(workspace=workspace, user=user, role=Role.SETTER)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[WORKSPACE_SESSION_KEY] = workspace.slug  # as after opening a page of the workspace
        session.create()
        users.append((user, session.session_key))
    return workspace, users, settings.SESSION_COOKIE_NAME


async def read_stream(port: int, path: str, cookie: str, deadline: float) -> dict:
    """One EventSource-like reader: the arrival time (monotonic) of each piece event, and the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
                  f"Cache-Control: no-cache\r\nCookie: {cookie}\r\nOrigin: http://127.0.0.1:8000\r\n\r\n").encode())
    await writer.drain()
    buffer, arrivals, status, ended, connected = b"", [], None, None, None
    try:
        while time.monotonic() < deadline:
            data = await asyncio.wait_for(reader.read(65536), timeout=max(0.1, deadline - time.monotonic()))
            now = time.monotonic()
            if not data:
                break
            buffer += data
            if status is None and b"\r\n" in buffer:
                status, connected = int(buffer.split(b" ", 2)[1]), now
                if status != 200:
                    break
            # Each SSE event is one chunk of the response; count the piece events seen so far.
            arrivals += [now] * (buffer.count(b"event: piece") - len(arrivals))
            if b"event: end" in buffer:
                ended = buffer.split(b"event: end\ndata: ", 1)[1].split(b"\n", 1)[0].decode()
                break
            if b"event: lost" in buffer:
                ended = "lost"
                break
    except TimeoutError:
        pass
    finally:
        writer.close()
    pieces = [json.loads(line[6:]) for line in buffer.decode(errors="replace").splitlines()
              if line.startswith("data: {")]
    # Where each event's text ends in the answer: the worker coalesces pieces, so an event may carry several.
    ends = [piece["o"] + len(piece["d"]) for piece in pieces]
    return {"status": status, "arrivals": arrivals, "ends": ends, "end": ended,
            "text": "".join(piece["d"] for piece in pieces), "connected": connected}


def piece_arrivals(result: dict, chunks: list[str]) -> list[float] | None:
    """When each of the model's pieces reached the reader: the arrival of the first event that holds its
    last character (an event may carry several pieces, coalesced in the worker). None if some never did."""
    times, event, end = [], 0, 0
    for chunk in chunks:
        end += len(chunk)
        while event < len(result["ends"]) and result["ends"][event] < end:
            event += 1
        if event >= len(result["arrivals"]):
            return None
        times.append(result["arrivals"][event])
    return times


def readers_main() -> int:
    """The readers' process of one round: a job per line on stdin ([port, path, cookie]), each read at once
    (as a browser opens its EventSource when its question's fragment arrives); at EOF, once every stream
    ended, what arrived when, in the order given."""

    async def run():
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 180
        tasks = []
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            port, path, cookie = json.loads(line)
            tasks.append(asyncio.create_task(read_stream(port, path, cookie, deadline)))
        return await asyncio.gather(*tasks)

    print(json.dumps(asyncio.run(run())))
    return 0


def one_round(fake, replies: dict, workspace, users, cookie_name: str, port: int, round_no: int,
              chunks: list[str]) -> dict:
    from django.urls import reverse

    from assistant.services import assistant_ask

    # The readers run in a process of their own, as browsers would: in this one they would wait for the
    # GIL behind the fake model's threads. time.monotonic() is the system-wide CLOCK_MONOTONIC on Linux,
    # so their arrival times compare with the fake model's send times.
    readers = subprocess.Popen([sys.executable, __file__, "--readers"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    for n, (user, session_key) in enumerate(users):
        result = assistant_ask(workspace=workspace, user=user, role="setter",
                               text=f"How should I answer her? bench-stream-{n}-{round_no}")
        path = reverse("assistant:stream", args=[workspace.slug, result.answer.pk])
        readers.stdin.write(json.dumps([port, path, f"{cookie_name}={session_key}"]) + "\n")
        readers.stdin.flush()
    ask_seconds = time.monotonic() - started
    output, _ = readers.communicate(timeout=240)
    results = json.loads(output)
    first, every, problems, late, events = [], [], [], 0, []
    for n, result in enumerate(results):
        reply = replies.get((n, round_no))
        if reply is None or result["status"] != 200 or result["end"] != "complete":
            connected = ("" if reply is None or not reply.sent_at or result["connected"] is None else
                         f", connected {result['connected'] - reply.sent_at[0]:+.2f} s from the first piece")
            problems.append(f"stream {n}: status {result['status']}, end {result['end']!r}, "
                            f"model asked: {reply is not None}{connected}")
            continue
        arrivals = piece_arrivals(result, chunks)
        if result["text"] != "".join(chunks) or arrivals is None or len(reply.sent_at) != len(chunks):
            problems.append(f"stream {n}: {len(result['text'])} characters read of {len(''.join(chunks))} sent")
            continue
        events.append(len(result["arrivals"]))
        latencies = [(got - sent) * 1000 for got, sent in zip(arrivals, reply.sent_at, strict=True)]
        if result["connected"] > reply.sent_at[0]:
            # Its reader was connected after the model's first piece (the machine was too busy to open it in
            # the first-token delay): that piece waited for the connection, not for the relay. Counted apart.
            late += 1
            every += latencies[1:]
            continue
        first.append(latencies[0])
        every += latencies
    return {"first_ms": first, "every_ms": every, "problems": problems, "ask_seconds": ask_seconds, "late": late,
            "events_per_answer": round(statistics.mean(events), 1) if events else None}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads (children not included), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks


def summarise(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=50, help="concurrent answers (and readers) per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=60, help="pieces per answer")
    parser.add_argument("--chunk-delay", type=float, default=0.025, help="seconds between pieces (40/s)")
    # Providers take 0.5-2 s to their first token; 1.5 s also lets this harness open every reader first.
    parser.add_argument("--first-token", type=float, default=1.5, help="the model's delay before its first piece")
    # Two processes: the SDKs parse every streamed event in Python, and one process's threads share one GIL.
    parser.add_argument("--worker-processes", type=int, default=2, help="llm worker processes sharing the threads")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()

    env = bench_env()
    os.environ.update(env)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    from sidekick_project import embedded
    from sidekick_project.runner import STREAM_ENV, stream_command

    children: list[subprocess.Popen] = []
    summary: dict = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                     "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                     "streams": args.streams, "rounds": args.rounds, "chunks": args.chunks,
                     "chunk_delay_s": args.chunk_delay, "first_token_delay_s": args.first_token,
                     "worker_processes": args.worker_processes}
    try:
        # Worker threads and the stream server's request threads (each briefly) hold one connection each.
        prepare_postgres(max_connections=3 * args.streams + 60)
        subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=BASE_DIR, env=env,
                       check=True, timeout=300)
        import django

        django.setup()
        from testing.fake_llm import FakeLLMServer, Reply

        chunks = [f"word{n} " for n in range(args.chunks)]
        replies: dict[tuple[int, int], Reply] = {}

        def handle(request):
            found = MARKER.search(request.last_user_text)
            reply = Reply.stream(chunks, chunk_delay=args.chunk_delay, delay=args.first_token)
            if found:
                replies[(int(found.group(1)), int(found.group(2)))] = reply
            return reply

        port = free_port()
        log = open(VAR_DIR / "children.log", "wb")  # noqa: SIM115 - closed with the run
        children.append(subprocess.Popen(stream_command(sys.executable, "127.0.0.1", port), cwd=BASE_DIR,
                                         env={**env, **STREAM_ENV}, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True))
        names = ["stream server"] + [f"llm worker {i}" for i in range(args.worker_processes)]
        per_process = -(-args.streams // args.worker_processes)
        children += [subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "sidekick_project", "worker", "-Q", "llm", "-n",
             f"bench-stream-{os.getpid()}-{i}@%h", "--pool", "threads", "-c", str(per_process), "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            for i in range(args.worker_processes)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with FakeLLMServer(handler=handle) as fake:
            workspace, users, cookie_name = setup(fake, args.streams)
            # One request first: the stream server imports the URLconf and the views on its first request
            # (seconds on a busy machine), which the warm-up's 50 readers would otherwise all queue behind.
            with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
                conn.sendall((f"GET /w/{workspace.slug}/assistant/messages/0/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              f"Cookie: {cookie_name}={users[0][1]}\r\nConnection: close\r\n\r\n").encode())
                while conn.recv(65536):
                    pass
            # A warm-up round (worker threads, SDK clients, the stream server's imports), not counted.
            warm = one_round(fake, replies, workspace, users, cookie_name, port, 0, chunks)
            print(f"warm-up: {len(warm['first_ms'])} streams complete, problems: {warm['problems'][:3]}", flush=True)
            all_first, all_every, rounds = [], [], []
            for round_no in range(1, args.rounds + 1):
                cpu_before = {name: cpu_seconds(child.pid) for name, child in zip(names, children, strict=True)}
                busy_before, total_before = machine_busy_seconds()
                result = one_round(fake, replies, workspace, users, cookie_name, port, round_no, chunks)
                busy_after, total_after = machine_busy_seconds()
                pieces = args.streams * args.chunks
                cpu = {name: round((cpu_seconds(child.pid) - cpu_before[name]) * 1000 / pieces, 3)
                       for name, child in zip(names, children, strict=True)}
                all_first += result["first_ms"]
                all_every += result["every_ms"]
                rounds.append({"first_piece_ms": summarise(result["first_ms"]),
                               "every_piece_ms": summarise(result["every_ms"]),
                               "problems": result["problems"], "ask_seconds": round(result["ask_seconds"], 2),
                               "readers_connected_after_the_first_piece": result["late"],
                               "events_per_answer": result["events_per_answer"],
                               "cpu_ms_per_piece": cpu,
                               "machine_busy_share": round((busy_after - busy_before) / (total_after - total_before), 2)})
                print(f"round {round_no}:", json.dumps(rounds[-1]), flush=True)
        summary["rounds_detail"] = rounds
        summary["first_piece_ms"] = summarise(all_first)
        summary["every_piece_ms"] = summarise(all_every)
        summary["median_of_round_p95_first_ms"] = statistics.median(r["first_piece_ms"].get("p95", 1e9) for r in rounds)
        summary["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        from django.db import connections

        connections.close_all()
    finally:
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
                child.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(child.pid, signal.SIGKILL)
        embedded.stop(VAR_DIR)
        if not args.keep_data:
            shutil.rmtree(VAR_DIR, ignore_errors=True)
            shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)
    print(json.dumps(summary, indent=2))
    problems = sum(len(r["problems"]) for r in summary.get("rounds_detail", []))
    ok = problems == 0 and summary["first_piece_ms"].get("p95", 1e9) <= 50
    print("target (first piece p95 <= 50 ms, every stream complete):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(readers_main() if sys.argv[1:] == ["--readers"] else main())
