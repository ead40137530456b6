"""Long audio: overlapping windows on the model's frame grid, stitched where both CTC paths are blank.

Window k covers output frames [k * hop, k * hop + size) (the last one runs to the end of the recording).
Neighbours overlap by `size - hop` frames. In each overlap we cut at the middle of the longest run of frames
where the best paths of *both* windows are blank (ties: nearest the overlap's centre), preferring the central
half of the overlap so each side keeps context. Frames before the cut come from the earlier window, from the
cut on from the later one. A token is emitted on non-blank frames, so it lies wholly on one side of the cut
and is taken exactly once: nothing is lost or doubled at a border. (With no common blank, e.g. a word filling
the overlap, we cut where the paths agree; a token run split there is joined again, as CTC merges repeats:
see `join_spans`.) Only two windows' log-probs are held at a time, so memory does not grow with the length of
the recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from asr.errors import ConfigError


@dataclass(frozen=True)
class ChunkConfig:
    """Window and overlap in seconds (rounded to whole output frames)."""

    chunk_s: float = 30.0
    overlap_s: float = 5.0

    def frames(self, frame_s: float) -> tuple[int, int]:
        """(window size, hop) in output frames of `frame_s` seconds."""
        size = int(round(self.chunk_s / frame_s))
        overlap = int(round(self.overlap_s / frame_s))
        if self.overlap_s <= 0 or overlap < 4:
            raise ConfigError(f"chunk overlap {self.overlap_s} s is too short: needs at least 4 frames of "
                              f"{frame_s:g} s")
        if size < 2 * overlap:
            raise ConfigError(f"chunk length {self.chunk_s} s must be at least twice the overlap ({self.overlap_s} s)")
        return size, size - overlap


def _runs(mask: list[bool]) -> list[tuple[int, int]]:
    runs, i = [], 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j < len(mask) and mask[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def find_cut(prev: torch.Tensor, nxt: torch.Tensor, blank: int = 0) -> int:
    """Cut frame (relative to the overlap's start) for the overlap's best paths `prev` and `nxt` (L,).

    Preference: the longest run of frames where both are blank, clipped to the central half (then one outside
    it); else the frame nearest the centre where both paths agree; else the centre.
    """
    length = min(len(prev), len(nxt))
    prev, nxt = prev[:length], nxt[:length]
    centre = length / 2
    lo, hi = length // 4, length - length // 4
    best, best_key = None, None
    for i, j in _runs(((prev == blank) & (nxt == blank)).tolist()):
        ci, cj = max(i, lo), min(j, hi)
        central = ci < cj
        a, b = (ci, cj) if central else (i, j)
        mid = (a + b) // 2
        key = (central, b - a, -abs(mid - centre))
        if best_key is None or key > best_key:
            best, best_key = mid, key
    if best is not None:
        return best
    agree = (prev == nxt).tolist()
    candidates = [t for t in range(length) if agree[t]]
    return min(candidates, key=lambda t: abs(t - centre)) if candidates else int(centre)


class Stitcher:
    """Feed each window's (T_k, V) log-probs (or (T_k, 1 + M, V), cut by the first) in order; get back stitched
    pieces (first frame, log-probs).

    The pieces tile the recording's output frames exactly once, in order.
    """

    def __init__(self, blank: int = 0):
        self.blank = blank
        self.pending: torch.Tensor | None = None  # the part of the previous window not yet given out
        self.pending_start = 0

    def add(self, log_probs: torch.Tensor, start: int) -> list[tuple[int, torch.Tensor]]:
        """A window whose first output frame is `start` (windows in order, each starting inside the last)."""
        if self.pending is None:
            self.pending, self.pending_start = log_probs, start
            return []
        pend_end = self.pending_start + self.pending.shape[0]
        if not self.pending_start <= start <= pend_end:
            raise ValueError(f"window at frame {start} does not overlap the previous window's end {pend_end}")
        overlap = min(pend_end, start + log_probs.shape[0]) - start
        cut = start
        if overlap > 0:
            a = self.pending[start - self.pending_start:start - self.pending_start + overlap]
            b = log_probs[:overlap]
            if a.dim() == 3:  # (T, 1 + M, V): an ensemble's mean, then its members (asr.transcribe.decoders)
                a, b = a[:, 0], b[:, 0]
            a, b = a.argmax(-1), b.argmax(-1)
            cut = start + find_cut(a, b, self.blank)
        piece = [(self.pending_start, self.pending[:cut - self.pending_start])] if cut > self.pending_start else []
        self.pending, self.pending_start = log_probs[cut - start:], cut
        return piece

    def finish(self) -> list[tuple[int, torch.Tensor]]:
        """The rest, after the last window."""
        rest = [(self.pending_start, self.pending)] if self.pending is not None and self.pending.shape[0] else []
        self.pending = None
        return rest

