"""Training batches made one ahead in a background thread (collation and SpecAugment) while the model trains
on the current one (1-3% of a step on this 2-core CPU, docs/benchmarks.md).

Each batch's SpecAugment masks come from a generator of its own, seeded from (seed, epoch, batch index), so
they do not depend on when the thread runs, on the draws of dropout in the main thread, or on where a run was
resumed. The thread runs its torch ops on one thread: the model's threads keep the cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from asr.training.augment import SpecAugment
from asr.data.dataset import Batch, FeatureDataset


def batch_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of batch `index` (in the epoch's order) of epoch `epoch`."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class BatchLoader:
    """`loader.epoch(epoch, [(index, utterance indices), ...])` yields the collated, augmented batches in that
    order, each made while the one before is in use. Close it (or use `with`) to stop its thread."""

    def __init__(self, data: FeatureDataset, augment: SpecAugment, seed: int, device: torch.device | str = "cpu"):
        self.data, self.augment, self.seed, self.device = data, augment, seed, torch.device(device)
        threads = torch.get_num_threads()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="asr-loader", initializer=torch.set_num_threads,
                                        initargs=(1,))
        self._pool.submit(int).result()  # the thread exists and runs on one thread...
        torch.set_num_threads(threads)  # ...and the process default is back for the model (and any later thread)

    def make(self, epoch: int, index: int, indices: list[int]) -> Batch:
        b = self.data.collate(indices).to(self.device)
        b.feats = self.augment(b.feats, b.lengths, batch_generator(self.seed, epoch, index))
        return b

    def epoch(self, epoch: int, batches: list[tuple[int, list[int]]]) -> Iterator[Batch]:
        pending: Future | None = None
        for k, (index, indices) in enumerate(batches):
            current = pending.result() if pending else self.make(epoch, index, indices)
            pending = self._pool.submit(self.make, epoch, *batches[k + 1]) if k + 1 < len(batches) else None
            yield current

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "BatchLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
