"""Snap CTC word times to the speech in the audio.

CTC says which words were spoken and roughly where, but a (bidirectional) CTC model may emit a word's tokens
anywhere near it: often late, sometimes over the next word's onset. The audio itself says where speech is.
We find speech regions (frame energy above the recording's noise floor by a share of its dynamic range), give
each word a region by a monotone alignment of CTC spans to regions (most overlap, few regions shared or passed
over), and let a word that has a region to itself take the region's extent. Words sharing a region (connected
speech) split it at the quietest frame between their CTC spans. A word with no region near it, or a recording
without contrast between speech and silence, keeps its CTC times. A snapped boundary stays within MAX_SHIFT_S of
the word's CTC span: whatever the regions (a noise floor misjudged on padded, joined or noisy audio), a word never
stretches across a pause or to the end of the file.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from asr.transcribe.align import Word

MIN_RANGE_DB = 10.0  # less contrast than this between quiet and loud frames: no snapping
DIGITAL_SILENCE_DB = -95.0  # below 16-bit resolution: exact (digital) silence, not the room's noise
MAX_SHIFT_S = 0.5  # the farthest a snapped start (end) lies before (after) the word's CTC span


def frame_energy_db(samples: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """Mean-square energy (dB) of each whole output frame of `samples`."""
    n = len(samples) // samples_per_frame
    x = samples[:n * samples_per_frame].astype(np.float64).reshape(n, samples_per_frame)
    return (10 * np.log10(np.mean(x * x, axis=1) + 1e-10)).astype(np.float32)


def speech_regions(energy_db: np.ndarray, margin: float = 0.3, min_gap: int = 3) -> list[tuple[int, int]]:
    """Frame ranges [start, end) of speech; gaps shorter than `min_gap` frames are bridged."""
    if len(energy_db) == 0:
        return []
    audible = energy_db[energy_db > DIGITAL_SILENCE_DB]  # exact zeros would set the noise floor at -100 dB
    if len(audible) < 0.1 * len(energy_db):
        return []
    lo, hi = np.percentile(audible, 10), np.percentile(audible, 99)
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


def assign_regions(spans: Sequence[tuple[int, int]], regions: Sequence[tuple[int, int]], share: float = 5.0,
                   skip: float = 3.0, reach: int = 33) -> list[int | None]:
    """For each word's CTC span, the index of its speech region (or None): a monotone assignment minimising
    the frames of the spans outside their regions, plus `share` per extra word in a region and `skip` per
    region passed over between two words. Only regions within `reach` frames of a span are candidates."""
    best: list[dict[int, float]] = []  # per word: candidate region -> lowest total cost ending there
    back: list[dict[int, int | None]] = []
    for i, (a, b) in enumerate(spans):
        cost_here, from_here = {}, {}
        for k, (s, e) in enumerate(regions):
            if s >= b + reach:
                break
            if e <= a - reach:
                continue
            own = (b - a) - max(0, min(b, e) - max(a, s)) + max(0, s - b, a - e)
            prev = best[i - 1] if i else {}
            options = [(v + (share if kk == k else skip * (k - kk - 1)), kk) for kk, v in prev.items() if kk <= k]
            if not options and prev:  # out of order with every earlier choice
                options = [(min(prev.values()) + 1e6, None)]
            total, arg = min(options, key=lambda o: o[0]) if options else (0.0, None)
            cost_here[k], from_here[k] = own + total, arg
        best.append(cost_here)
        back.append(from_here)
    owner: list[int | None] = [None] * len(spans)
    k: int | None = None
    for i in range(len(spans) - 1, -1, -1):
        if not best[i]:
            k = None
            continue
        if k not in best[i]:
            k = min(best[i], key=best[i].get)
        owner[i] = k
        k = back[i][k]
    return owner


def snap_to_speech(words: Sequence[Word], energy_db: np.ndarray, frame_s: float,
                   max_shift_s: float = MAX_SHIFT_S) -> list[Word]:
    """`words` with start/end moved to the speech they belong to, at most `max_shift_s` outside their CTC spans
    (see the module doc)."""
    regions = speech_regions(energy_db)
    if not regions or not words:
        return list(words)
    spans = []
    for w in words:
        a = int(round(w.start_s / frame_s))
        spans.append((a, max(int(round(w.end_s / frame_s)), a + 1)))
    owner = assign_regions(spans, regions)
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
    reach = int(round(max_shift_s / frame_s))
    bounds = [(max(a, ca - reach), max(min(b, cb + reach), max(a, ca - reach) + 1))
              for (a, b), (ca, cb) in zip(bounds, spans)]
    return [dataclasses.replace(w, start_s=a * frame_s, end_s=b * frame_s) for w, (a, b) in zip(words, bounds)]
