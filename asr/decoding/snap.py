"""Snap CTC word times to the speech in the audio.

CTC says which words were spoken and roughly where, but a (bidirectional) CTC model may emit a word's tokens
anywhere near it: often late, sometimes over the next word's onset. The audio itself says where speech is.
We find speech regions (frame energy above the recording's noise floor by a share of its dynamic range), give
each word the region its CTC span overlaps most (in order), and let a word that has a region to itself take
the region's extent. Words sharing a region (connected speech) split it at the quietest frame between their
CTC spans. A word with no region, or a recording without contrast between speech and silence, keeps its CTC
times.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from asr.decoding.align import Word

MIN_RANGE_DB = 10.0  # less contrast than this between quiet and loud frames: no snapping


def frame_energy_db(samples: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """Mean-square energy (dB) of each whole output frame of `samples`."""
    n = len(samples) // samples_per_frame
    x = samples[:n * samples_per_frame].astype(np.float64).reshape(n, samples_per_frame)
    return (10 * np.log10(np.mean(x * x, axis=1) + 1e-10)).astype(np.float32)


def speech_regions(energy_db: np.ndarray, margin: float = 0.3, min_gap: int = 3) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of speech; gaps shorter than `min_gap` frames are bridged."""
    if len(energy_db) == 0:
        return []
    lo, hi = np.percentile(energy_db, 10), np.percentile(energy_db, 99)
    if hi - lo < MIN_RANGE_DB:
        return []
    active = np.concatenate([[False], energy_db > lo + margin * (hi - lo), [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    regions: list[list[int]] = []
    for s, e in zip(edges[::2], edges[1::2]):
        if regions and s - regions[-1][1] < min_gap:
            regions[-1][1] = int(e)
        else:
            regions.append([int(s), int(e)])
    return [(s, e) for s, e in regions]


def snap_to_speech(words: Sequence[Word], energy_db: np.ndarray, frame_s: float) -> list[Word]:
    """`words` with start/end moved to the speech they belong to (see the module doc)."""
    regions = speech_regions(energy_db)
    if not regions or not words:
        return list(words)
    spans = []
    for w in words:
        a = int(round(w.start_s / frame_s))
        spans.append((a, max(int(round(w.end_s / frame_s)), a + 1)))
    owner: list[int | None] = []
    floor = 0
    for a, b in spans:
        best, best_overlap = None, 0
        for k in range(floor, len(regions)):
            s, e = regions[k]
            if s > b + 1:
                break
            overlap = min(b + 1, e) - max(a - 1, s)
            if overlap > best_overlap:
                best, best_overlap = k, overlap
        owner.append(best)
        if best is not None:
            floor = best
    bounds = list(spans)
    for k, (s, e) in enumerate(regions):
        idx = [i for i, o in enumerate(owner) if o == k]
        if not idx:
            continue
        cuts = [s]
        for i, j in zip(idx, idx[1:]):
            lo, hi = sorted((spans[i][1], spans[j][0]))
            lo, hi = max(lo, s), min(max(hi, lo + 1), e)
            cuts.append(max(cuts[-1], lo + int(np.argmin(energy_db[lo:hi])) if hi > lo else lo))
        cuts.append(e)
        for n, i in enumerate(idx):
            bounds[i] = (cuts[n], max(cuts[n + 1], cuts[n] + 1))
    return [dataclasses.replace(w, start_s=a * frame_s, end_s=b * frame_s) for w, (a, b) in zip(words, bounds)]
