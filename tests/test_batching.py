"""The micro-batching queue of rasd serve: concurrent requests share a batch, bounds hold, a
cancelled request is never predicted, a failing request fails alone, close finishes the work."""
import threading
import time

import pytest

from rasd.serving.batching import BatcherClosedError, MicroBatcher, QueueFullError


def held(max_documents: int, max_wait_s: float = 0.05, **kwargs):
    """A batcher whose worker is held inside ``predict`` on a first request ``[0]``, so the
    requests submitted next queue up together; ``predict.gate.set()`` lets it go."""
    predict = Recorder()
    predict.gate.clear()
    batcher = MicroBatcher(predict, max_documents=max_documents, max_wait_s=max_wait_s, **kwargs)
    first = batcher.submit([0])
    assert predict.started.wait(5)
    return predict, batcher, first


class Recorder:
    """``predict`` that doubles numbers, records each batch, can block until released, and fails on -1."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.started.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        if -1 in items:
            raise ValueError("bad item -1")
        return [2 * x for x in items]


def test_requests_waiting_together_share_one_batch_and_get_their_own_results():
    predict, batcher, first = held(max_documents=10)
    futures = [batcher.submit([i, i + 1]) for i in range(1, 9, 2)]
    predict.gate.set()
    assert first.result(5) == [0]
    assert [f.result(5) for f in futures] == [[2, 4], [6, 8], [10, 12], [14, 16]]
    assert predict.batches == [[0], [1, 2, 3, 4, 5, 6, 7, 8]]
    assert batcher.stats.batches == 2 and batcher.stats.requests == 5 and batcher.stats.documents == 9
    batcher.close(5)


def test_a_batch_never_grows_past_max_documents():
    predict, batcher, first = held(max_documents=3)
    futures = [batcher.submit([1, 2]), batcher.submit([3]), batcher.submit([4, 5]), batcher.submit([6, 7, 8, 9])]
    predict.gate.set()
    assert [f.result(5) for f in [first, *futures]] == [[0], [2, 4], [6], [8, 10], [12, 14, 16, 18]]
    # a request larger than the bound runs alone; none is split
    assert predict.batches == [[0], [1, 2, 3], [4, 5], [6, 7, 8, 9]]
    batcher.close(5)


def test_a_request_cancelled_while_waiting_is_never_predicted():
    predict, batcher, running = held(max_documents=1, max_wait_s=0.0)
    waiting = batcher.submit([2])
    assert waiting.cancel()
    assert not running.cancel()  # already running: it finishes
    predict.gate.set()
    assert running.result(5) == [0]
    batcher.close(5)
    assert predict.batches == [[0]] and batcher.stats.cancelled == 1


def test_a_failing_request_fails_alone():
    predict, batcher, first = held(max_documents=10)
    good, bad, other = batcher.submit([1]), batcher.submit([-1]), batcher.submit([3])
    predict.gate.set()
    assert first.result(5) == [0] and good.result(5) == [2] and other.result(5) == [6]
    with pytest.raises(ValueError, match="bad item -1"):
        bad.result(5)
    batcher.close(5)


def test_a_full_queue_refuses_and_close_finishes_what_was_submitted():
    predict, batcher, running = held(max_documents=1, max_wait_s=0.0, max_queue=2)
    queued = [batcher.submit([2]), batcher.submit([3])]
    with pytest.raises(QueueFullError, match="max_queue=2"):
        batcher.submit([4])
    closer = threading.Thread(target=batcher.close, args=(10,))
    closer.start()
    time.sleep(0.05)
    with pytest.raises(BatcherClosedError):
        batcher.submit([5])
    predict.gate.set()
    closer.join(10)
    assert not batcher.alive
    assert [running.result(0), *(f.result(0) for f in queued)] == [[0], [4], [6]]


def test_freed_memory_goes_back_to_the_system_on_glibc():
    import platform
    import sys

    from rasd.serving.memory import release_free_memory

    if not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"):
        pytest.skip("malloc_trim is glibc's")
    assert release_free_memory() is True
