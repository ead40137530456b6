"""The bounded queue of transcription work.

Requests are admitted while fewer than `max_queue` are running or waiting (else `Busy`: 503 + Retry-After). Worker
threads take the oldest job and with it the other waiting jobs of the same model and decoder, up to `max_batch`,
and run them through one Transcriber call, whose forward passes batch the windows of all of them (several short
recordings in one pass). A job's `cancel` event (set when its client leaves or its time is up) stops its reading
at the next block: the job ends as a failure and its windows stop costing model time.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from asr.errors import AudioError
from asr.transcribe.audio_stream import AudioStream
from asr.transcribe.inputs import AudioInput
from asr.transcribe.transcriber import Failure


class Busy(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"the server is busy: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class CancellableStream(AudioStream):
    """An AudioStream whose reading stops (AudioError) once `cancel` is set."""

    def __init__(self, spec, sample_rate: int, cancel: threading.Event, **kwargs):
        super().__init__(spec, sample_rate, **kwargs)
        self.cancel = cancel

    def _read(self, frames: int) -> np.ndarray:
        if self.cancel.is_set():
            raise AudioError(f"{self.name}: cancelled")
        return super()._read(frames)


@dataclass
class Job:
    model: str
    decoder: str | None
    name: str  # the audio's name in the transcript
    audio: str | np.ndarray  # a server-side file of ours, or samples
    sample_rate: int | None = None  # of the samples
    cancel: threading.Event = field(default_factory=threading.Event)
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class WorkQueue:
    def __init__(self, registry, workers: int, max_queue: int, max_batch: int, threads: int = 1):
        self.registry, self.max_queue, self.max_batch, self.threads = registry, max_queue, max_batch, threads
        self._jobs: collections.deque[Job] = collections.deque()
        self._cv = threading.Condition()
        self.admitted = 0  # running and waiting
        self.done = 0
        self.batches = 0
        self.cancelled = 0  # jobs dropped because their client left or their time ran out
        self._job_s = 1.0  # running mean of a batch's time, for Retry-After
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"asr-serve-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, job: Job, force: bool = False) -> concurrent.futures.Future:
        """Queue `job`; Busy when the queue is full (unless `force`: a live stream's segment, admitted already)."""
        with self._cv:
            if not force and self.admitted >= self.max_queue:
                raise Busy(max(1, int(round(self._job_s * self.admitted / len(self._threads)))))
            self.admitted += 1
            self._jobs.append(job)
            self._cv.notify()
        return job.future

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _take(self) -> list[Job] | None:
        with self._cv:
            while not self._jobs and not self._closed:
                self._cv.wait()
            if self._closed:
                return None
            first = self._jobs.popleft()
            batch, rest = [first], collections.deque()
            while self._jobs and len(batch) < self.max_batch:
                job = self._jobs.popleft()
                (batch if (job.model, job.decoder) == (first.model, first.decoder) else rest).append(job)
            self._jobs.extendleft(reversed(rest))
            return batch

    def _work(self) -> None:
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        while (batch := self._take()) is not None:
            t0 = time.perf_counter()
            try:
                self._run(batch)
            except Exception as e:  # noqa: BLE001 - a bug must fail the requests, never the worker
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(e)
            finally:
                with self._cv:
                    self.admitted -= len(batch)
                    self.done += len(batch)
                    self.batches += 1
                    self._job_s = 0.8 * self._job_s + 0.2 * (time.perf_counter() - t0)

    def _run(self, batch: list[Job]) -> None:
        transcriber = self.registry.transcriber(batch[0].model, batch[0].decoder)
        rate = transcriber.loaded.features.sample_rate
        sources, running = [], []
        for job in batch:
            if not job.future.set_running_or_notify_cancel():
                continue
            if job.cancel.is_set():
                job.future.set_result(Failure(job.name, f"{job.name}: cancelled"))
                continue
            try:
                stream = CancellableStream(job.audio, rate, job.cancel, name=job.name, source_rate=job.sample_rate)
            except AudioError as e:
                job.future.set_exception(e)
                continue
            sources.append((AudioInput(job.name, job.name), stream))
            running.append(job)
        for job, result in zip(running, transcriber.transcribe_streams(sources)):
            job.future.set_result(result)
        with self._cv:
            self.cancelled += sum(1 for job in batch if job.cancel.is_set())

