"""Helper threads that run the vector side of a hybrid search while the caller runs the lexical side.

The two sides of ``knowledge_search`` are independent queries that each keep one Postgres backend
busy for a few milliseconds; one after the other, their latencies add up. Django connections are
per thread, so a helper thread here has its own connection and its query runs in a second backend
at the same time as the caller's (on another core). See BENCHMARKS.md "Retrieval".

Rules:
- A second connection cannot see the caller's uncommitted rows, so the caller only hands work over
  when it is not inside a transaction (``knowledge_search`` checks ``sidekick_project.db.in_autocommit``).
- ``try_submit`` never queues behind other searches: when every helper is busy it returns None and
  the caller runs the work itself (so a burst of concurrent searches degrades to the sequential
  path instead of waiting, and each process holds at most ``KNOWLEDGE_SEARCH_THREADS`` extra
  connections).
- A helper's connection follows ``CONN_MAX_AGE`` like a request's: closed after a job once it is
  older than that (at once with 0, as in the tests), and after any database error.
- Created lazily per process (a forked child gets its own helpers).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future

from django.conf import settings
from django.db import DatabaseError, connection, connections

logger = logging.getLogger(__name__)


class SearchWorkers:
    def __init__(self, size: int):
        self.size = size
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(size)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._stopped = False

    def try_submit(self, fn, /, **kwargs) -> Future | None:
        """Run ``fn(**kwargs)`` on a helper thread; None (nothing submitted) when all are busy."""
        if self._stopped or not self._slots.acquire(blocking=False):
            return None
        if len(self._threads) < self.size:
            with self._start_lock:
                while len(self._threads) < self.size:
                    thread = threading.Thread(target=self._loop, name=f"knowledge-search-{len(self._threads)}",
                                              daemon=True)
                    thread.start()
                    self._threads.append(thread)
        future: Future = Future()
        self._jobs.put((future, fn, kwargs))
        return future

    def stop(self, timeout: float = 5.0) -> None:
        """Let every helper finish its job, close its connection and exit."""
        self._stopped = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                future, fn, kwargs = job
                failed = False
                try:
                    result = fn(**kwargs)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, which decides
                    failed = isinstance(exc, DatabaseError)
                    self._slots.release()
                    future.set_exception(exc)
                else:
                    self._slots.release()
                    future.set_result(result)
                self._connection_tidy(failed=failed)
        finally:
            connections.close_all()

    @staticmethod
    def _connection_tidy(*, failed: bool) -> None:
        """What Django's request_finished does for a request thread: close an old or broken connection."""
        if connection.connection is None:
            return
        if failed or connection.errors_occurred or (
                connection.close_at is not None and time.monotonic() >= connection.close_at):
            connection.close()


_workers: SearchWorkers | None = None
_workers_lock = threading.Lock()


def _reusable(workers: SearchWorkers | None, size: int) -> bool:
    """This process's running helpers, of the configured size (a forked child must start its own)."""
    return workers is not None and workers.pid == os.getpid() and workers.size == size and not workers._stopped


def search_workers() -> SearchWorkers | None:
    """This process's helpers, or None when ``KNOWLEDGE_SEARCH_THREADS`` is 0 (sequential search)."""
    global _workers
    size = int(settings.KNOWLEDGE_SEARCH_THREADS)
    if size <= 0:
        return None
    workers = _workers
    if _reusable(workers, size):
        return workers
    with _workers_lock:
        if _reusable(_workers, size):
            return _workers
        if _workers is not None and _workers.pid == os.getpid():
            _workers.stop()
        _workers = SearchWorkers(size)
        return _workers


def search_workers_stop() -> None:
    """Stop this process's helpers (and close their connections); the next search starts new ones."""
    global _workers
    with _workers_lock:
        if _workers is not None and _workers.pid == os.getpid():
            _workers.stop()
        _workers = None
