"""Live answers: each piece the model writes is added to a Redis stream per answer and relayed to the
browser as server-sent events (assistant.views.message_stream).

Redis only carries the pieces; the AssistantMessage row stays the truth (the worker still writes it
every FLUSH_SECONDS, and the final state only there). Every piece carries its offset in the answer (in
characters), so a reader that joins late, reconnects, or finds a piece missing (Redis restarted, the
stream expired) notices the gap and reloads the row: it can show less for a moment, never something wrong.

A Redis stream rather than pub/sub: a reader that connects after the first pieces (the browser opens
the stream once the question's page fragment arrives, the worker may be faster) reads them from the
start, and a reconnect resumes after its Last-Event-ID.

Pieces are coalesced in the worker: an answer's first piece is added at once (what the user waits for,
and what bench/assistant_stream.py measures), as is any piece after a pause of PUBLISH_SECONDS; the
pieces that arrive within PUBLISH_SECONDS of the last add wait and go together, as one entry at the
offset of the first, at most PUBLISH_SECONDS after that add. A fast model's 40 pieces/s become about
13 entries/s per answer: fewer XADDs in the worker, fewer XREAD wake-ups and SSE writes in the stream
server, which is what the CPU of 50 concurrent answers on 2 cores goes to. One thread per worker process
(_Flusher) adds the waiting pieces of all its answers, due at about the same time, in one pipeline.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator

import redis
import redis.asyncio as aredis
from django.conf import settings

log = logging.getLogger(__name__)

KEY = "assistant:answer:{}"
TTL_SECONDS = 15 * 60  # a stream outlives its answer (task time limit 180 s) long enough for a late reader
MAXLEN = 20_000  # pieces kept per answer: far above MAX_ANSWER_TOKENS; a bound if something loops
BLOCK_MS = 15_000  # a reader wakes at least this often to send a keep-alive comment
RELAY_SECONDS = 240  # past the answer task's time limit: the reader then reloads the row
RETRY_MS = 2000  # EventSource's reconnection delay
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


def key(message_id: int) -> str:
    return KEY.format(message_id)


@functools.cache
def _client() -> redis.Redis:
    # A socket timeout above BLOCK_MS: a blocking XREAD is not a dead server.
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=BLOCK_MS / 1000 + 5,
                                health_check_interval=30)


PUBLISH_SECONDS = 0.075  # the most a piece waits for the ones after it; 0 adds each piece as it arrives
BATCH_SECONDS = 0.02  # the flusher also adds what would be due this much later: one pipeline for several answers


class AnswerPublisher:
    """The worker's side for one answer. Publishing is best effort: after one Redis error it stops
    trying (the browser then reads the row, by the poll), so a Redis outage never slows an answer.

    Pieces go to Redis in order: every add of this answer's entries happens under its lock (the answer's
    own thread adds the first piece and the end, the flusher thread the pieces that waited)."""

    def __init__(self, message_id: int):
        self.key = key(message_id)
        self.offset = 0  # of the next piece, in characters
        self.working = True
        self._started = False
        self._lock = threading.Lock()
        self._pending: list[str] = []  # pieces waiting for the flusher
        self._pending_offset = 0
        self._added_at = float("-inf")  # monotonic time of the last add

    def _entries(self, pipe) -> None:
        """Queue the add of what waits (if anything) on `pipe`; the caller holds the lock."""
        if self._pending:
            pipe.xadd(self.key, {"o": self._pending_offset, "d": "".join(self._pending)}, maxlen=MAXLEN,
                      approximate=True)
            self._pending = []
        self._added_at = time.monotonic()

    def piece(self, text: str) -> None:
        with self._lock:
            offset, self.offset = self.offset, self.offset + len(text)
            if not self.working:
                return
            if self._pending:  # already waiting for the flusher: goes with them
                self._pending.append(text)
                return
            self._pending, self._pending_offset = [text], offset
            if time.monotonic() - self._added_at >= PUBLISH_SECONDS:  # the first piece, or one after a pause
                pipe = _client().pipeline(transaction=False)
                self._entries(pipe)
                _send(pipe, [self])
            else:
                _flusher().schedule(self, self._added_at + PUBLISH_SECONDS)

    def end(self, status: str) -> None:
        """After the row's final write: what still waits, then the end (the reader then loads the
        finished message from the row)."""
        with self._lock:
            if not self.working:
                return
            pipe = _client().pipeline(transaction=False)
            self._entries(pipe)
            pipe.xadd(self.key, {"end": status}, maxlen=MAXLEN, approximate=True)
            _send(pipe, [self])

    def flush_due(self, pipe) -> bool:
        """The flusher's part (under the lock, which the flusher holds until the pipeline is sent):
        whether anything was queued."""
        if not self.working or not self._pending:
            return False
        self._entries(pipe)
        return True


def _send(pipe, publishers: list[AnswerPublisher]) -> None:
    """Send `pipe`, with the stream's expiry set by its first add; on a Redis error the publishers stop."""
    for publisher in publishers:
        if not publisher._started:
            pipe.expire(publisher.key, TTL_SECONDS)
    try:
        pipe.execute()
    except redis.RedisError as exc:
        for publisher in publishers:
            publisher.working = False
            publisher._pending = []
        log.warning("assistant stream %s: Redis unavailable, readers fall back to the row: %s",
                    ", ".join(p.key for p in publishers), exc)
        return
    for publisher in publishers:
        publisher._started = True


class _Flusher:
    """One daemon thread per process adding the pieces that waited, for every answer of the process."""

    def __init__(self):
        self._condition = threading.Condition()
        self._due: dict[AnswerPublisher, float] = {}
        self._thread = threading.Thread(target=self._run, name="assistant-stream-flusher", daemon=True)
        self._thread.start()

    def schedule(self, publisher: AnswerPublisher, due: float) -> None:
        with self._condition:
            earliest = min(self._due.values(), default=None)
            self._due[publisher] = due
            if earliest is None or due < earliest:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._due:
                    self._condition.wait()
                wait = min(self._due.values()) - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                horizon = time.monotonic() + BATCH_SECONDS
                batch = [publisher for publisher, due in self._due.items() if due <= horizon]
                for publisher in batch:
                    del self._due[publisher]
            try:
                self._flush(batch)
            except Exception:  # noqa: BLE001 - the thread must outlive anything: the readers then reload the row
                log.exception("assistant stream: adding waiting pieces failed")

    @staticmethod
    def _flush(batch: list[AnswerPublisher]) -> None:
        pipe = _client().pipeline(transaction=False)
        locked, sent = [], []
        try:
            for publisher in batch:
                publisher._lock.acquire()
                locked.append(publisher)
                if publisher.flush_due(pipe):
                    sent.append(publisher)
            if sent:
                _send(pipe, sent)
        finally:
            for publisher in locked:
                publisher._lock.release()


_flusher_instance: _Flusher | None = None
_flusher_lock = threading.Lock()


def _flusher() -> _Flusher:
    global _flusher_instance
    if _flusher_instance is None:
        with _flusher_lock:
            if _flusher_instance is None:
                _flusher_instance = _Flusher()
    return _flusher_instance


def _forget_flusher() -> None:
    """A forked child has no flusher thread (and maybe a lock held by a thread that is not there)."""
    global _flusher_instance, _flusher_lock
    _flusher_instance, _flusher_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_flusher)


def answer_end_publish(*, message_id: int, status: str) -> None:
    """The end of an answer finished elsewhere than in its worker (the sweep of lost answers)."""
    AnswerPublisher(message_id).end(status)


def answer_stream_reset(*, message_id: int) -> None:
    """Forget the pieces of an answer that is asked again (Retry): its readers start from the new one."""
    try:
        _client().delete(key(message_id))
    except redis.RedisError as exc:
        log.warning("assistant stream %s not reset: %s", key(message_id), exc)


def last_event_id(value: str | None) -> str:
    """Where a reader starts: after the entry it last saw (EventSource's Last-Event-ID), else the beginning."""
    return value if value and _ENTRY_ID.match(value) else "0"


def _event(entry_id: bytes, fields: dict) -> tuple[bytes, bool]:
    """One SSE event for one stream entry, and whether it is the last."""
    ident = entry_id.decode()
    if b"end" in fields:
        return f"id: {ident}\nevent: end\ndata: {fields[b'end'].decode()}\n\n".encode(), True
    data = json.dumps({"o": int(fields[b"o"]), "d": fields[b"d"].decode()}, ensure_ascii=False)
    return f"id: {ident}\nevent: piece\ndata: {data}\n\n".encode(), False


# What a reader gets when the relay cannot go on: the browser reloads the row and polls it.
LOST = b"event: lost\ndata: \n\n"
ENDED = b"event: end\ndata: \n\n"
PREAMBLE = f"retry: {RETRY_MS}\n\n".encode()


def relay(*, message_id: int, after: str, finished: bool = False) -> Iterator[bytes]:
    """The SSE body for a blocking server (a gunicorn thread, the test server): holds its thread. An answer
    already `finished` gets its end at once (the browser then loads the row)."""
    yield PREAMBLE
    if finished:
        yield ENDED
        return
    deadline = time.monotonic() + RELAY_SECONDS
    stream_key = key(message_id)
    while time.monotonic() < deadline:
        try:
            result = _client().xread({stream_key: after}, count=200, block=BLOCK_MS)
        except redis.RedisError:
            yield LOST
            return
        if not result:
            yield b": keep-alive\n\n"
            continue
        events, last = _events(result)
        yield events
        if last:
            return
        after = result[0][1][-1][0]
    yield LOST


def _events(result) -> tuple[bytes, bool]:
    """The SSE events of one XREAD answer, as one write (a reader that fell behind catches up in one send),
    and whether the answer ended."""
    events = []
    for entry_id, fields in result[0][1]:
        event, last = _event(entry_id, fields)
        events.append(event)
        if last:
            return b"".join(events), True
    return b"".join(events), False


_async_clients: dict[int, aredis.Redis] = {}


def _async_client() -> aredis.Redis:
    """One client (connection pool) per event loop: the ASGI server runs one."""
    import asyncio

    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        client = aredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1,
                                       socket_timeout=BLOCK_MS / 1000 + 5, health_check_interval=30)
        _async_clients[loop_id] = client
    return client


async def relay_async(*, message_id: int, after: str, finished: bool = False) -> AsyncIterator[bytes]:
    """The same body for the ASGI stream server: no thread held, so one process serves many readers."""
    yield PREAMBLE
    if finished:
        yield ENDED
        return
    deadline = time.monotonic() + RELAY_SECONDS
    stream_key = key(message_id)
    client = _async_client()
    while time.monotonic() < deadline:
        try:
            result = await client.xread({stream_key: after}, count=200, block=BLOCK_MS)
        except redis.RedisError:
            yield LOST
            return
        if not result:
            yield b": keep-alive\n\n"
            continue
        events, last = _events(result)
        yield events
        if last:
            return
        after = result[0][1][-1][0]
    yield LOST
