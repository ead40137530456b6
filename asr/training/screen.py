"""Training-time screening: utterances CTC cannot learn from are dropped before training and listed in
`exp/<run>/log/{train,dev}_report.txt` (see asr.data.screen; `strict`: an error instead).

- empty transcript: nothing to learn (fix_data_dir drops these too)
- non-finite features: NaN or infinite values, which would poison the global CMVN and every batch
- unknown characters (words, for word/phone/BPE units): what tokens.txt cannot write, which would become `<unk>`
- too short for CTC: fewer output frames (after the model's subsampling) than the labels need, one per label
  plus a blank between two equal labels; CTC's loss is then infinite (zeroed, so silently useless)
- too long: more frames than `max_frames`, the padded-frame budget of one batch
"""

from __future__ import annotations

from pathlib import Path

import torch

from asr.data.screen import Rejected, ScreenReport
from asr.text.tokenizer import Tokenizer
from asr.data.dataset import FeatureDataset


def ctc_min_frames(ids: list[int]) -> int:
    """Output frames CTC needs for the label sequence `ids`: one per label, plus a blank between repeats."""
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))


def screen_dataset(data: FeatureDataset, tok: Tokenizer, subsample: int, max_frames: int, stage: str,
                   source: str | Path) -> ScreenReport:
    """Drop (in place) the utterances of `data` that cannot be trained on; returns the report."""
    total, keep, rejected = len(data), [], []
    unknown_what = "unknown characters" if tok.kind == "char" else "unknown words"
    for i, utt in enumerate(data.utt_ids):
        text, frames = data.texts[i], data.feats[i].shape[0]
        ids = data.targets[i].tolist()
        unknown = tok.unknown(text)  # characters (char units) or words the units cannot write
        out_frames = -(-frames // subsample)
        if not text.split():
            why = ("empty transcript", "no words to learn")
        elif not bool(torch.isfinite(data.feats[i]).all()):
            why = ("non-finite features", f"{int((~torch.isfinite(data.feats[i])).sum())} NaN or infinite values")
        elif unknown:
            why = (unknown_what, "not in tokens.txt: " + " ".join(
                f"{c!r} (U+{ord(c):04X})" if len(c) == 1 else repr(c) for c in unknown))
        elif frames > max_frames:
            why = ("too long", f"{frames} frames, more than max_frames {max_frames} (one batch)")
        elif out_frames < ctc_min_frames(ids):
            why = ("too short for CTC", f"{len(ids)} labels need {ctc_min_frames(ids)} output frames, "
                                        f"{frames} frames give {out_frames} after subsampling by {subsample}")
        else:
            keep.append(i)
            continue
        rejected.append(Rejected(utt, why[0], why[1]))
    data.keep(keep)
    return ScreenReport(stage, str(source), total, rejected)
