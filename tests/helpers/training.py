"""A tiny training setup: data dirs of random features with a/b transcripts, and a small model config."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import yaml

from asr.data.datadir import DataDir
from asr.features.cmvn import accumulate_stats
from asr.fileio import atomic_write_text

DIM = 12


def make_data(root: Path, name: str, n: int, seed: int, nan_utts: tuple[str, ...] = ()) -> Path:
    """A data dir of random features (20..60 frames) with random a/b transcripts, feats.yaml and cmvn.scp."""
    rng = np.random.default_rng(seed)
    d = DataDir(text={})
    feats = {}
    for i in range(n):
        utt = f"spk{i % 2}-{name}{i:03d}"
        frames = int(rng.integers(20, 60))
        feats[utt] = rng.standard_normal((frames, DIM)).astype(np.float32)
        if utt in nan_utts:
            feats[utt][3, 2] = np.nan
        d.text[utt] = " ".join("".join(rng.choice(["a", "b"], size=int(rng.integers(1, 4)))) for _ in range(2))
        d.utt2spk[utt] = f"spk{i % 2}"
    out = root / name
    d.save(out)
    with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as w:
        for utt in sorted(feats):
            w(utt, feats[utt])
    with kaldiio.WriteHelper(f"ark,scp:{out / 'cmvn.ark'},{out / 'cmvn.scp'}") as w:
        for spk in ("spk0", "spk1"):
            stats = None
            for utt in sorted(u for u in feats if d.utt2spk[u] == spk):
                stats = accumulate_stats(np.nan_to_num(feats[utt]), stats)
            w(spk, stats)
    atomic_write_text(out / "feats.yaml", yaml.safe_dump({"kind": "fbank", "sample_rate": 8000, "num_mel_bins": DIM}))
    return out


CONFIG = {"model": {"cell": "lstm", "num_layers": 1, "hidden_size": 16, "dropout": 0.3, "stack_frames": 2,
                    "subsample": 1},
          "training": {"epochs": 5, "lr": 0.01, "max_frames": 120, "seed": 3, "num_threads": 1,
                       "checkpoint_every_steps": 2, "warmup_steps": 5}}
