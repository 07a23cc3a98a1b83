"""Webhook intake benchmark: signed Meta deliveries per second and latency, against a bare-view ceiling.

    python bench/webhook.py [--seconds 8] [--rounds 3] [--connections 16] [--workers 2] [--threads 8]

What it does, all on loopback:
1. Uses its own data directory (var/bench): embedded Postgres + Redis, `migrate`.
2. Starts gunicorn with production settings (DEBUG=0, SECRET_KEY, ALLOWED_HOSTS,
   FIELD_ENCRYPTION_KEYS, SECURE_SSL_REDIRECT=0, JSON logs at WARNING) and BENCH=1, which mounts
   /bench/bare: the same Django middleware stack with a view that does nothing.
3. An asyncio load generator (raw HTTP/1.1, keep-alive, N concurrent connections, closed loop)
   alternates rounds: bare view, then webhook, each for a fixed time. Every webhook request carries
   a distinct, correctly signed Instagram DM, so each one is verified, inserted into Postgres and
   enqueued on Redis, exactly as in production. No worker runs: this measures intake only.
4. Reports per-round and median throughput, p50 and p99, the webhook/bare ratio, and checks that
   every answered delivery is in the database. Stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SECRET = "bench-instagram-app-secret"
ACCOUNT_ID = "17841400000000042"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(var_dir: Path) -> dict:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "sidekick_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_MANIFEST": "0",
        "SIDEKICK_VAR_DIR": str(var_dir),
        "INSTAGRAM_APP_SECRET": SECRET,
        "META_APP_SECRET": "bench-meta-app-secret",
        "LOG_LEVEL": "WARNING",
        "BENCH": "1",
    })
    for name in ("DATABASE_URL", "REDIS_URL", "META_SANDBOX"):
        env.pop(name, None)
    return env


def make_bodies(count: int, prefix: str) -> list[tuple[bytes, str]]:
    now = int(time.time() * 1000)
    bodies = []
    for n in range(count):
        payload = {"object": "instagram", "entry": [{"id": ACCOUNT_ID, "time": now, "messaging": [{
            "sender": {"id": str(5000 + n % 500)}, "recipient": {"id": ACCOUNT_ID}, "timestamp": now + n,
            "message": {"mid": f"bench_{prefix}_{n}", "text": "Hi! Do you have a slot on Friday? 🙂"}}]}]}
        body = json.dumps(payload).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        bodies.append((body, sig))
    return bodies


def request_bytes(path: str, body: bytes, signature: str | None) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: keep-alive"]
    if signature:
        head.append(f"X-Hub-Signature-256: {signature}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def load(port: int, requests_: list[bytes], seconds: float, connections: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    cursor = 0
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal cursor
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and cursor < len(requests_):
                data = requests_[cursor]
                cursor += 1
                started = time.perf_counter()
                writer.write(data)
                try:
                    status = await read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    status = -1
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies), "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0,
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0,
        "statuses": statuses,
    }


def wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not listen on {port} within {timeout}s")


def count_events(env: dict) -> int:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from integrations.models import WebhookEvent; print(WebhookEvent.objects.count())"],
        cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per round and target")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    # One process per core: each has its own GIL, relay thread and connections; threads cover the
    # commit wait. 2 x 8 beat 3 x 4 on 2 cores (fewer processes contending for the same CPUs).
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--max-requests", type=int, default=40_000, help="upper bound per round")
    parser.add_argument("--keep-data", action="store_true", help="keep var/bench after the run")
    args = parser.parse_args()

    var_dir = BASE_DIR / "var" / "bench"
    env = server_env(var_dir)
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=BASE_DIR, env=env, check=True)
    before = count_events(env)
    port = free_port()
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "sidekick_project.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--keep-alive", "30", "--log-level", "warning"],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )
    results: dict[str, list[dict]] = {"bare": [], "webhook": []}
    try:
        wait_for(port)
        bare_requests = [request_bytes("/bench/bare", b, None) for b, _ in make_bodies(args.max_requests, "bare")]
        # Warm-up: connections, imports, Postgres and Redis pools in every worker.
        warm = [request_bytes("/webhooks/meta/", b, s) for b, s in make_bodies(2000, "warm")]
        asyncio.run(load(port, warm, 2, args.connections))
        asyncio.run(load(port, bare_requests[:2000], 1, args.connections))
        for round_ in range(args.rounds):
            bodies = make_bodies(args.max_requests, f"r{round_}_{int(time.time())}")
            webhook_requests = [request_bytes("/webhooks/meta/", b, s) for b, s in bodies]
            for name, reqs in (("bare", bare_requests), ("webhook", webhook_requests)):
                result = asyncio.run(load(port, reqs, args.seconds, args.connections))
                results[name].append(result)
                print(f"round {round_ + 1} {name:8} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                      f"p99 {result['p99_ms']:6.2f} ms  statuses {result['statuses']}", flush=True)
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)

    stored = count_events(env) - before
    answered = sum(r["statuses"].get(200, 0) for r in results["webhook"])
    from sidekick_project import embedded

    embedded.stop(var_dir)
    if not args.keep_data:
        shutil.rmtree(var_dir, ignore_errors=True)

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    summary = {
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "gunicorn": f"{args.workers} gthread workers x {args.threads} threads",
        "connections": args.connections, "seconds_per_round": args.seconds, "rounds": args.rounds,
        "bare_rps": median("bare", "rps"), "bare_p50_ms": median("bare", "p50_ms"),
        "bare_p99_ms": median("bare", "p99_ms"),
        "webhook_rps": median("webhook", "rps"), "webhook_p50_ms": median("webhook", "p50_ms"),
        "webhook_p99_ms": median("webhook", "p99_ms"),
        "webhook_non_200": sum(n for r in results["webhook"] for s, n in r["statuses"].items() if s != 200),
        "webhook_200": answered, "events_stored_including_warmup": stored,
    }
    summary["ratio"] = summary["webhook_rps"] / summary["bare_rps"]
    print(json.dumps(summary, indent=2))
    ok = (summary["webhook_rps"] >= 1000 and summary["webhook_p99_ms"] <= 25 and summary["ratio"] >= 0.5
          and summary["webhook_non_200"] == 0 and stored >= answered)
    print("targets (>= 1000/s, p99 <= 25 ms, ratio >= 0.5, every 200 stored):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
