"""Profile training steps of a recipe's configuration with torch.profiler: ops by self CPU time.

    .venv/bin/python scripts/profile_train_step.py --data-dir egs/an4/data/train_sp \
        --tokens egs/an4/data/lang_phone/tokens.txt --conf egs/an4/conf/train.yaml --threads 2

Each step is what `asr train` does per batch (collate, SpecAugment, then asr.training.trainer.train_step:
forward, CTC, backward, clipping, fused Adam); `--ceiling`: the bench's ceiling step instead
(bench.baselines.ceiling_step: fused nn.LSTM per layer + the model's dropout + Linear + CTC + clipping + Adam on
inputs stacked beforehand). The first `--warmup`
steps are not profiled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml
from torch.profiler import ProfilerActivity, profile

from asr.model.model import CTCModel, ModelConfig
from asr.text.tokenizer import load_tokenizer
from asr.training.augment import AugmentConfig, SpecAugment
from asr.data.dataset import FeatureDataset
from asr.data.sampler import BucketBatchSampler
from asr.training.trainer import train_step

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ (not an installed package)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--conf", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rows", type=int, default=22)
    p.add_argument("--ceiling", action="store_true", help="profile the bench's bare ceiling step instead")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(open(args.conf))
    tok = load_tokenizer(args.tokens)
    data = FeatureDataset(args.data_dir, tok)
    mcfg = ModelConfig(**{**cfg["model"], "input_dim": data.feats[0].shape[1], "vocab_size": len(tok)})
    model = CTCModel(mcfg)
    augment = SpecAugment(AugmentConfig(**cfg.get("augment", {})))
    opt = torch.optim.Adam(model.parameters(), cfg["training"].get("lr", 1e-3), fused=True)
    batches = list(BucketBatchSampler(data.num_frames, cfg["training"]["max_frames"], seed=1))
    batches = batches[:args.warmup + args.steps]

    def step(indices: list[int]) -> None:
        b = data.collate(indices)
        b.feats = augment(b.feats, b.lengths)
        train_step(model, opt, b, cfg["training"].get("grad_clip", 5.0))

    if args.ceiling:
        from bench.baselines import ceiling_step

        step = ceiling_step(data, mcfg, len(tok), batches, cfg["training"].get("lr", 1e-3), 1)
    for indices in batches[:args.warmup]:
        step(indices)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for indices in batches[args.warmup:]:
            step(indices)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
