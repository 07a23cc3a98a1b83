"""Live answers: each piece the model writes is added to a Redis stream per answer and relayed to the
browser as server-sent events (assistant.views.message_stream).

Redis only carries the pieces; the AssistantMessage row stays the truth (the worker still writes it
every FLUSH_SECONDS, and the final state only there). Every piece carries its offset in the answer (in
characters), so a reader that joins late, reconnects, or finds a piece missing (Redis restarted, the
stream expired) notices the gap and reloads the row: it can show less for a moment, never something wrong.

A Redis stream rather than pub/sub: a reader that connects after the first pieces (the browser opens
the stream once the question's page fragment arrives, the worker may be faster) reads them from the
start, and a reconnect resumes after its Last-Event-ID. Pieces are written the moment they arrive,
unthrottled: one XADD of a few bytes (the latency the bench measures is this path).
"""

from __future__ import annotations

import functools
import json
import logging
import re
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


class AnswerPublisher:
    """The worker's side for one answer. Publishing is best effort: after one Redis error it stops
    trying (the browser then reads the row, by the poll), so a Redis outage never slows an answer."""

    def __init__(self, message_id: int):
        self.key = key(message_id)
        self.offset = 0
        self.working = True
        self._started = False

    def _add(self, fields: dict) -> None:
        if not self.working:
            return
        try:
            if self._started:
                _client().xadd(self.key, fields, maxlen=MAXLEN, approximate=True)  # one round trip per piece
            else:
                pipe = _client().pipeline(transaction=False)
                pipe.xadd(self.key, fields, maxlen=MAXLEN, approximate=True)
                pipe.expire(self.key, TTL_SECONDS)
                pipe.execute()
                self._started = True
        except redis.RedisError as exc:
            self.working = False
            log.warning("assistant stream %s: Redis unavailable, readers fall back to the row: %s", self.key, exc)

    def piece(self, text: str) -> None:
        self._add({"o": self.offset, "d": text})
        self.offset += len(text)

    def end(self, status: str) -> None:
        """After the row's final write: the reader then loads the finished message from the row."""
        self._add({"end": status})


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
