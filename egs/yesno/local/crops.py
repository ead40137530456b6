"""Start-cropped copies of the yesno training recordings: SRC's utterances, plus for each recording N copies that
start later, just before or inside the end of one of its words, transcribed with the words after the cut.

Why: every training file starts with NO after a quiet lead-in, while a test file may open with a clipped word (the
tail of a YES, e.g. 1_1_1_1_0_1_0_0), which Kaldi's HMM cannot align as a word (shorter than its 9 states) but a
CTC model trained on 27 whole files reads as one more YES at some seeds. The copies start with either word, or
with the clipped tail of one (not transcribed), and triple the updates per epoch. Word ends are found from the
frame energy (yesno's words are separated by pauses); a recording whose energy does not show as many words as
its transcript has gets no copies.

    python local/crops.py SRC DST [--copies N] [--seed S]
DST: SRC's recordings and text, with a `segments` file (the originals whole, the copies from their cut).
"""

from __future__ import annotations

import argparse
import random
import zlib

import numpy as np

from asr.audio import load_audio_as_recorded
from asr.data.datadir import DataDir, Segment
from asr.errors import AsrError

FRAME_S = 0.01


def word_spans(samples: np.ndarray, rate: int, words: int) -> list[tuple[float, float]] | None:
    """(start_s, end_s) of each word from the frame energy, or None when the count differs from `words`."""
    n = len(samples) // int(rate * FRAME_S)
    if n < 10:
        return None
    frames = samples[:n * int(rate * FRAME_S)].reshape(n, -1).astype(np.float64)
    energy = np.convolve(np.log10((frames ** 2).mean(1) + 1e-10), np.ones(5) / 5, mode="same")
    lo, hi = np.percentile(energy, [10, 90])
    loud = energy > lo + 0.5 * (hi - lo)
    runs, start = [], None
    for i, v in enumerate([*loud, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if runs and start - runs[-1][1] < 15:  # a dip shorter than 150 ms is inside a word
                runs[-1] = (runs[-1][0], i)
            else:
                runs.append((start, i))
            start = None
    runs = [r for r in runs if r[1] - r[0] >= 8]
    if len(runs) != words:
        return None
    return [(a * FRAME_S, b * FRAME_S) for a, b in runs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--copies", type=int, default=2, help="start-cropped copies per recording")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    src = DataDir.load(args.src)
    out = DataDir(wav_scp=dict(src.wav_scp), utt2spk=dict(src.utt2spk), text=dict(src.text),
                  segments={u: Segment(u, 0.0, -1) for u in src.utt_ids})
    made = skipped = 0
    for utt in src.utt_ids:
        words = src.text[utt].split()
        try:
            samples, rate, _ = load_audio_as_recorded(src.wav_scp[utt])
        except (AsrError, OSError, ValueError):
            samples, rate = np.zeros(0), 8000  # a file that does not read gets no copies (feats reports it)
        spans = word_spans(np.asarray(samples, dtype=np.float64).reshape(-1), rate, len(words))
        if spans is None or len(words) < 2:
            skipped += 1
            continue
        rng = random.Random(zlib.crc32(f"{args.seed} {utt}".encode()))
        for j, k in enumerate(sorted(rng.sample(range(1, len(words)), min(args.copies, len(words) - 1)))):
            # start between 0.15 s before the end of word k-1 (its clipped tail) and 0.05 s before word k
            lo, hi = spans[k - 1][1] - 0.15, max(spans[k - 1][1] - 0.15, spans[k][0] - 0.05)
            crop = f"crop{j + 1}-{utt}"
            out.segments[crop] = Segment(utt, round(rng.uniform(lo, hi), 2), -1)
            out.text[crop] = " ".join(words[k:])
            out.utt2spk[crop] = src.utt2spk[utt]
            made += 1
    out.save(args.dst)
    print(f"{args.dst}: {len(src.utt_ids)} utterances and {made} start-cropped copies"
          f"{f' ({skipped} recordings without copies: words not found)' if skipped else ''}")


if __name__ == "__main__":
    main()
