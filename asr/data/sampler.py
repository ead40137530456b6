"""Length-bucketed batches under a frame budget (padded frames per batch), as ESPnet's `numel` batching.

Utterances are sorted by length and cut into batches whose padded size (longest x count) stays within
`max_frames`; the batch order is shuffled per epoch from (seed, epoch) alone, so any epoch's order can be
rebuilt exactly.
"""

from __future__ import annotations

import random


class BucketBatchSampler:
    def __init__(self, lengths: list[int], max_frames: int, shuffle: bool = True, seed: int = 0,
                 max_batch_size: int | None = None):
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        self.batches: list[list[int]] = []
        batch: list[int] = []
        for i in order:
            longest = lengths[i]  # sorted ascending: the newest is the longest
            if batch and ((len(batch) + 1) * longest > max_frames or len(batch) == (max_batch_size or 1 << 30)):
                self.batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            self.batches.append(batch)
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        batches = list(self.batches)
        if self.shuffle:
            random.Random(self.seed * 100003 + self.epoch).shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return len(self.batches)
