"""Batch reservations: one quota reservation for a run of many calls (an eval run), drawn from in memory.

A call through the gateway normally costs two commits on its own path: the reservation (advisory
lock, quota check, insert) and the usage update. For a run of hundreds of calls that is most of the
time spent outside the provider. A batch reserves the run's whole estimate once, under the same lock
and limits as a call (but it must fit whole: a batch that would exceed a limit is refused up front),
as one pending LLMUsage row. Each call then draws its reservation (estimated input + max_tokens) from
the batch in memory, and its completed usage row (real tokens, cost, outcome) is buffered; `flush`
writes the buffered rows with one `bulk_create` and, in the same transaction, lowers the batch row by
what those calls had drawn. So at every commit the quota counts, for each call, either its share of
the batch row or its own row with the real tokens, never neither: concurrent callers outside the
batch can never overspend a limit because of it.

    batch = llm_batch_reserve(workspace=ws, purpose="evals_judge", tokens=estimate, ttl=timedelta(hours=1))
    try:
        ... llm_complete(..., batch=batch) in any number of threads; batch.flush() now and then ...
    finally:
        batch.release()  # writes what is left, returns the unused part at once

A call the batch cannot cover (drawn out, released, or too close to its expiry or to the end of the
day it was reserved in) reserves on its own as without a batch. A run that dies without releasing
leaves its batch row pending: it stops counting at `expires_at` (the quota sums skip it). The rows of
calls completed but not yet flushed when a process is killed are lost with it (at most one flush
interval's worth); their tokens stay counted in the batch row until it expires. Not for use inside a
transaction: a flush must commit for other callers to see it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from integrations.llm.errors import NoProviderConfigured
from integrations.llm.gateway import usage_reservation_insert
from integrations.llm.models import LLMProvider, LLMUsage
from integrations.llm.quotas import EMBEDDING_PURPOSE, quota_periods
from integrations.llm.selectors import llm_provider_for

FLUSH_AFTER_SECONDS = 5.0  # a call that finds rows buffered longer than this flushes them itself


class LLMBatch:
    """One batch reservation; thread-safe. Made by `llm_batch_reserve`."""

    def __init__(self, *, row: LLMUsage, draw_until: datetime, flush_after: float = FLUSH_AFTER_SECONDS):
        self.row_id = row.pk
        self.workspace_id, self.user_id = row.workspace_id, row.user_id
        self.tokens = row.input_tokens  # the cap on draws (lowered to what was drawn at release)
        self.draw_until = draw_until
        self.flush_after = flush_after
        self.drawn = 0  # drawn by calls so far
        self.settled = 0  # drawn by calls whose rows are written
        self.closed = False
        self._rows: list[tuple[LLMUsage, int]] = []  # completed calls' rows, not yet written
        self._oldest = 0.0  # monotonic time the oldest buffered row was added
        self._row_removed = False
        self._lock = threading.Lock()  # the counters and the buffer
        self._flushing = threading.Lock()  # one flush at a time

    def draw(self, row: LLMUsage, *, within: float) -> int:
        """Reserve `row`'s size (an unsaved call row) for a call that ends within `within` seconds.
        Returns the tokens drawn, or 0 when the batch cannot cover the call (it must reserve alone)."""
        if (row.workspace_id, row.user_id) != (self.workspace_id, self.user_id):
            raise ValueError("a batch covers only calls of its own workspace and user")
        size = row.input_tokens + row.output_tokens
        # The call's row must be written while the batch still counts, and stay in the day (and so
        # the month) the batch was checked against; FLUSH_AFTER covers the wait for the flush.
        deadline = timezone.now() + timedelta(seconds=within + self.flush_after)
        with self._lock:
            if self.closed or deadline > self.draw_until or self.drawn + size > self.tokens:
                return 0
            self.drawn += size
        return size

    def settle(self, row: LLMUsage, *, drawn: int) -> None:
        """Take a drawn call's completed row (real tokens, outcome) for the next flush. Called by the
        gateway; after `release` (a call still in flight then) the row is written at once."""
        with self._lock:
            if not self._rows:
                self._oldest = time.monotonic()
            self._rows.append((row, drawn))
            due = self.closed or time.monotonic() - self._oldest >= self.flush_after
        if due:
            self.flush(wait=self.closed)

    def flush(self, *, wait: bool = True) -> int:
        """Write the buffered rows in one transaction with the batch row's new size; returns how many.
        `wait=False` returns 0 at once when another thread is flushing."""
        if not self._flushing.acquire(blocking=wait):
            return 0
        try:
            with self._lock:
                rows, closed, tokens = list(self._rows), self.closed, self.tokens
            if self._row_removed or (not rows and not closed):
                return 0
            settled = self.settled + sum(drawn for _row, drawn in rows)
            with transaction.atomic():
                if rows:
                    LLMUsage.objects.bulk_create([row for row, _drawn in rows])
                if closed and settled == tokens:  # released and nothing in flight: nothing left to hold
                    LLMUsage.objects.filter(pk=self.row_id).delete()
                else:
                    LLMUsage.objects.filter(pk=self.row_id).update(input_tokens=tokens - settled)
            with self._lock:
                del self._rows[:len(rows)]
                self.settled = settled
                self._row_removed = closed and settled == tokens
                if self._rows:
                    self._oldest = time.monotonic()
            return len(rows)
        finally:
            self._flushing.release()

    def release(self) -> None:
        """No more draws; write what is buffered and return the unused part of the reservation. What
        calls still in flight drew stays reserved until their rows are written."""
        with self._lock:
            self.closed = True
            self.tokens = self.drawn
        self.flush()


def llm_batch_reserve(*, workspace, purpose: str, tokens: int, ttl: timedelta, user=None,
                      provider: LLMProvider | None = None) -> LLMBatch:
    """Reserve `tokens` for many calls at once (see the module docstring). Raises QuotaExceeded when
    they do not fit whole under every limit that applies (a refused row is recorded, as for a call),
    NoProviderConfigured without a provider.

    `ttl`: how long the reservation holds if it is never released (set it to the run's time limit);
    calls draw from it until shortly before. Call outside a transaction."""
    if tokens <= 0:
        raise ValueError("a batch reserves a positive number of tokens")
    if purpose == EMBEDDING_PURPOSE:
        raise ValueError("embedding usage is not counted by the quotas: it takes no reservation")
    provider = provider or llm_provider_for(workspace=workspace, user=user)
    if provider is None:
        raise NoProviderConfigured(workspace, user)
    row = LLMUsage(workspace=workspace, user=user, provider=provider, purpose=purpose[:64],
                   provider_kind=provider.kind, model=provider.model, input_tokens=tokens, output_tokens=0,
                   expires_at=timezone.now() + ttl)
    usage_reservation_insert(row=row, workspace=workspace, user=user, need=tokens)
    day_end = quota_periods(workspace=workspace, now=row.created_at).day_end
    return LLMBatch(row=row, draw_until=min(row.expires_at, day_end))
