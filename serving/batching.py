"""A micro-batching queue: requests that arrive together are predicted together, on one worker thread.

Each request (a list of documents) is submitted as a ``concurrent.futures.Future``. One thread
takes the oldest request, waits at most ``max_wait_s`` for others to join it until the batch holds
``max_documents`` documents, runs the whole batch through ``predict`` in one call, and resolves
every request's future with its own results. So concurrent requests share the model's batches
(windows of several requests fill one forward pass) while the event loop never blocks on the model.

A request cancelled before its batch starts (its client gave up, or its time budget ran out) is
dropped without being predicted; one already in a running batch finishes, and its result is
discarded. A failing batch is retried request by request, so one bad request fails alone.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class QueueFullError(RuntimeError):
    """More requests are waiting than the queue holds: the caller should answer "busy"."""


class BatcherClosedError(RuntimeError):
    """The batcher is shutting down and takes no new requests."""


@dataclass
class BatchStats:
    """What the worker has done so far (for logs and ``/v1/model``)."""

    batches: int = 0
    requests: int = 0
    documents: int = 0
    cancelled: int = 0
    busy_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "requests": self.requests, "documents": self.documents,
                "cancelled": self.cancelled, "busy_seconds": round(self.busy_seconds, 3)}


@dataclass
class _Request(Generic[Item]):
    items: Sequence[Item]
    future: Future
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher(Generic[Item, Result]):
    """Batches submitted item lists into calls of ``predict(items) -> results`` (one result per item).

    ``max_documents``: a batch closes when it holds this many items (a larger request runs alone);
    ``max_wait_s``: how long the first request of a batch waits for others; ``max_queue``: requests
    waiting beyond this are refused with ``QueueFullError``.
    """

    def __init__(self, predict: Callable[[list[Item]], list[Result]], max_documents: int = 32,
                 max_wait_s: float = 0.005, max_queue: int = 256, name: str = "rasd-batcher") -> None:
        if max_documents < 1:
            raise ValueError(f"max_documents must be at least 1, not {max_documents}")
        self.predict = predict
        self.max_documents = max_documents
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.stats = BatchStats()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ callers
    def submit(self, items: Sequence[Item]) -> Future:
        """A future of the results of ``items`` (a list, in order). The future carries the
        time the request waited in the queue as ``future.queued_seconds`` once it runs."""
        with self._lock:
            if self._closed:
                raise BatcherClosedError("the server is shutting down")
            if self._queue.qsize() >= self.max_queue:
                raise QueueFullError(f"{self._queue.qsize()} requests are waiting (limit max_queue={self.max_queue})")
            future: Future = Future()
            self._queue.put(_Request(list(items), future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, finish every request already submitted, then stop the worker."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)  # after every request already queued
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        pending: _Request | None = None
        while True:
            first = pending or self._queue.get()
            pending = None
            if first is None:
                return
            batch, stop = [first], False
            size = len(first.items)
            deadline = time.perf_counter() + self.max_wait_s
            while size < self.max_documents:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if size + len(nxt.items) > self.max_documents:
                    pending = nxt  # starts the next batch, so no batch grows past the bound
                    break
                batch.append(nxt)
                size += len(nxt.items)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Request]) -> None:
        # a future cancelled while it waited is dropped; the others are marked running, so they
        # can no longer be cancelled and will get a result
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        self.stats.cancelled += len(batch) - len(live)
        if not live:
            return
        start = time.perf_counter()
        for r in live:
            r.future.queued_seconds = start - r.enqueued
        items = [item for r in live for item in r.items]
        if len(live) == 1:
            self._resolve(live[0])
        else:
            try:
                results = self._predict(items)
            except Exception:  # noqa: BLE001 - retried one request at a time, so the culprit fails alone
                for r in live:
                    self._resolve(r)
            else:
                offset = 0
                for r in live:
                    r.future.set_result(results[offset:offset + len(r.items)])
                    offset += len(r.items)
        seconds = time.perf_counter() - start
        self.stats.batches += 1
        self.stats.requests += len(live)
        self.stats.documents += len(items)
        self.stats.busy_seconds += seconds
        logger.debug("batch of %d documents from %d requests in %.1f ms", len(items), len(live), 1000 * seconds)

    def _predict(self, items: list) -> list:
        results = self.predict(items)
        if len(results) != len(items):
            raise RuntimeError(f"predict returned {len(results)} results for {len(items)} items")
        return results

    def _resolve(self, request: _Request) -> None:
        try:
            request.future.set_result(self._predict(list(request.items)))
        except Exception as err:  # noqa: BLE001 - handed to the caller through its future
            logger.exception("a request of %d documents failed", len(request.items))
            request.future.set_exception(err)
