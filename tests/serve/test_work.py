"""The work queue: admission (Busy), several requests of one model in one Transcriber call, cancellation, and a
worker that survives a failure."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from asr.errors import AudioError
from asr.serve.work import Busy, CancellableStream, Job, WorkQueue
from asr.transcribe.transcriber import Failure, Transcript


class Gate:
    """A stand-in registry whose transcriber waits for `open` and records the batches it is given."""

    def __init__(self):
        self.open = threading.Event()
        self.started = threading.Event()
        self.batches: list[list[str]] = []
        self.fail = False

    def transcriber(self, model, decoder):
        gate = self

        class T:
            loaded = SimpleNamespace(features=SimpleNamespace(sample_rate=8000))

            def transcribe_streams(self, sources):
                gate.started.set()
                gate.open.wait(10)
                if gate.fail:
                    raise RuntimeError("boom")
                gate.batches.append([item.key for item, _ in sources])
                for item, stream in sources:
                    list(stream.windows(8000, 8000))
                    yield Transcript(item.key, [], 1.0)

        return T()


def job(name: str, model: str = "m") -> Job:
    return Job(model, None, name, np.zeros(8000, np.float32), 8000)


def test_queue_admits_up_to_its_limit_then_busy_and_batches_what_waits():
    gate = Gate()
    queue = WorkQueue(gate, workers=1, max_queue=4, max_batch=8)
    try:
        first = queue.submit(job("a"))
        assert gate.started.wait(5)
        waiting = [queue.submit(job(n)) for n in "bc"] + [queue.submit(job("d", model="other"))]
        with pytest.raises(Busy) as e:
            queue.submit(job("e"))
        assert e.value.retry_after_s >= 1
        forced = queue.submit(job("f"), force=True)  # a live stream's segment is never refused
        gate.open.set()
        results = [f.result(5) for f in [first, *waiting, forced]]
        assert [r.audio for r in results] == list("abcdf")
        assert gate.batches == [["a"], ["b", "c", "f"], ["d"]]  # same model and decoder: one call
        deadline = time.monotonic() + 10  # the worker counts a batch out just after handing out its results
        while queue.admitted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queue.admitted == 0
    finally:
        queue.close()


def test_cancelled_work_ends_as_a_failure_and_a_failing_batch_keeps_the_worker():
    gate = Gate()
    queue = WorkQueue(gate, workers=1, max_queue=8, max_batch=1)
    try:
        blocker = queue.submit(job("a"))
        gone = job("gone")
        future = queue.submit(gone)
        gone.cancel.set()
        gate.fail = True
        gate.open.set()
        with pytest.raises(RuntimeError):
            blocker.result(5)
        result = future.result(5)
        assert isinstance(result, Failure) and "cancelled" in result.error
        gate.fail = False
        assert queue.submit(job("b")).result(5).audio == "b"
    finally:
        queue.close()


def test_cancellable_stream_stops_reading():
    cancel = threading.Event()
    stream = CancellableStream(np.zeros(80000, np.float32), 8000, cancel, name="x")
    windows = stream.windows(8000, 8000)
    next(windows)
    cancel.set()
    with pytest.raises(AudioError, match="x: cancelled"):
        list(windows)
