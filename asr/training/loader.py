"""Training batches (collation and SpecAugment, 1-3% of a step): made one ahead in a background thread while the
model trains on the current one when a core is spare (the model's threads fewer than the cores available), else
in the loop, where they cost the same (docs/benchmarks.md, "The loader thread").

A thread's work cannot be free when the model's OpenMP team holds every core: it takes a core from the team,
whose every barrier then waits for it. Worse, a thread's torch ops run on ATen's process thread count unless the
thread sets its own after ATen's per-thread initialisation (which happens on its first torch call and resets
the count): done before, as this module once did, the thread got a second OpenMP team of the model's size, and
two teams spinning on 2 cores made a 2-thread step 2.7x slower (#22).

Each batch's SpecAugment masks come from a generator of its own, seeded from (seed, epoch, batch index), so
they do not depend on where the batch is made, on the draws of dropout in the main thread, or on where a run
was resumed: both ways give the same batches, bit for bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from asr.data.dataset import Batch, FeatureDataset
from asr.training.augment import SpecAugment


def batch_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of batch `index` (in the epoch's order) of epoch `epoch`."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as taskset or a container's cpuset set it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _one_thread() -> None:
    """Run this thread's torch ops on one thread: ATen's per-thread initialisation first (any torch thread query
    does it; it sets the thread's count to the process's), then the count."""
    torch.get_num_threads()
    torch.set_num_threads(1)


class BatchLoader:
    """`loader.epoch(epoch, [(index, utterance indices), ...])` yields the collated, augmented batches in that
    order. `background`: each made while the one before is in use, in a thread on one torch thread (default:
    when the model's threads leave a core spare); else each when it is due. Close it (or use `with`) to stop
    its thread."""

    def __init__(self, data: FeatureDataset, augment: SpecAugment, seed: int, device: torch.device | str = "cpu",
                 background: bool | None = None):
        self.data, self.augment, self.seed, self.device = data, augment, seed, torch.device(device)
        threads = torch.get_num_threads()
        self.background = threads < available_cores() if background is None else background
        self._pool = None
        if self.background:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="asr-loader", initializer=_one_thread)
            self._pool.submit(int).result()  # the thread exists and runs on one thread...
            torch.set_num_threads(threads)  # ...and the process count is back for the model (and later threads)

    def make(self, epoch: int, index: int, indices: list[int]) -> Batch:
        b = self.data.collate(indices).to(self.device)
        generator = batch_generator(self.seed, epoch, index)
        b.feats, b.lengths = self.augment.trim(b.feats, b.lengths, b.target_lengths, generator)
        b.feats = self.augment(b.feats, b.lengths, generator)
        return b

    def epoch(self, epoch: int, batches: list[tuple[int, list[int]]]) -> Iterator[Batch]:
        if self._pool is None:
            yield from (self.make(epoch, index, indices) for index, indices in batches)
            return
        pending: Future | None = None
        for k, (index, indices) in enumerate(batches):
            current = pending.result() if pending else self.make(epoch, index, indices)
            pending = self._pool.submit(self.make, epoch, *batches[k + 1]) if k + 1 < len(batches) else None
            yield current

    def threads(self) -> int | None:
        """The torch thread count the background thread's ops run on (None: no thread)."""
        return None if self._pool is None else self._pool.submit(torch.get_num_threads).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "BatchLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
