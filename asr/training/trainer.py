"""The training loop: Adam with warm-up (or SGD with newbob halving, as EESEN), gradient clipping,
dev loss/CER/WER each epoch, best and last checkpoints, TensorBoard events, a log, a seed.

The exp dir is a model dir (see asr.model.store) plus `checkpoints/{last,best}.pt`, `tensorboard/`, `log/`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from asr.decoding.greedy import greedy_decode
from asr.errors import ConfigError
from asr.features.extract import global_cmvn_stats, load_feats_config
from asr.fileio import atomic_torch_save
from asr.model.model import CTCModel, ModelConfig
from asr.model.store import TOKENS, save_weights, write_config
from asr.scoring.align import ErrorCounts, count_errors
from asr.text.tokenizer import CharTokenizer
from asr.training.dataset import FeatureDataset
from asr.training.sampler import BucketBatchSampler

log = logging.getLogger("asr.train")


@dataclass
class TrainConfig:
    epochs: int = 20
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warm-up of the learning rate over this many updates
    lr_schedule: str = "constant"  # constant | newbob (halve when the dev loss improves by < newbob_threshold)
    newbob_threshold: float = 0.0
    grad_clip: float = 5.0
    max_frames: int = 20000  # padded input frames per batch
    seed: int = 1
    num_threads: int = 0  # 0: PyTorch's default
    best_metric: str = "loss"  # loss | cer (dev)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        if set(d) - known:
            raise ConfigError(f"unknown training options: {', '.join(sorted(set(d) - known))}")
        cfg = cls(**d)
        if cfg.optimizer not in ("adam", "sgd") or cfg.lr_schedule not in ("constant", "newbob"):
            raise ConfigError(f"bad optimizer/lr_schedule: {cfg.optimizer}/{cfg.lr_schedule}")
        return cfg


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _setup_logging(exp_dir: Path) -> None:
    (exp_dir / "log").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(exp_dir / "log" / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


@torch.inference_mode()
def evaluate(model: CTCModel, data: FeatureDataset, tok: CharTokenizer, max_frames: int, device) -> dict:
    """Dev loss (per utterance), CER and WER with greedy decoding."""
    model.eval()
    total_loss, chars, words = 0.0, ErrorCounts(), ErrorCounts()
    for indices in BucketBatchSampler(data.num_frames, max_frames, shuffle=False):
        b = data.collate(indices).to(device)
        log_probs, out_lengths = model(b.feats, b.lengths)
        total_loss += model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths).item() * len(indices)
        for i, ids in zip(indices, greedy_decode(log_probs, out_lengths)):
            hyp, ref = tok.decode(ids), data.texts[i]
            chars += count_errors(list(ref.replace(" ", "")), list(hyp.replace(" ", "")))
            words += count_errors(ref.split(), hyp.split())
    model.train()
    return {"loss": total_loss / len(data), "cer": 100 * chars.rate, "wer": 100 * words.rate}


def train(config: dict, train_dir: str | os.PathLike, dev_dir: str | os.PathLike, tokens: str | os.PathLike,
          exp_dir: str | os.PathLike, device: str | None = None, progress: bool = True) -> Path:
    """Train a BiLSTM-CTC model; `config` has `model:` and `training:` sections. Returns the exp dir."""
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    _setup_logging(exp_dir)
    tcfg = TrainConfig.from_dict(config.get("training") or {})
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if tcfg.num_threads:
        torch.set_num_threads(tcfg.num_threads)
    seed_everything(tcfg.seed)

    tok = CharTokenizer.load(tokens)
    tok.save(exp_dir / TOKENS)
    features = load_feats_config(train_dir)
    if load_feats_config(dev_dir) != features:
        raise ConfigError(f"{dev_dir}: features differ from {train_dir}'s")
    mcfg = ModelConfig.from_dict({**(config.get("model") or {}), "input_dim": features.dim, "vocab_size": len(tok)})
    train_set, dev_set = FeatureDataset(train_dir, tok), FeatureDataset(dev_dir, tok)
    model = CTCModel(mcfg)
    model.set_cmvn(global_cmvn_stats(train_dir))
    model.to(device)
    full_config = {"features": features.to_dict(), "model": mcfg.to_dict(), "training": dataclasses.asdict(tcfg),
                   "data": {"train": str(Path(train_dir).resolve()), "dev": str(Path(dev_dir).resolve()),
                            "tokens": str(Path(tokens).resolve())}}
    write_config(exp_dir, full_config)
    log.info("torch %s on %s (%s), %d threads; %d parameters; train %d utts, dev %d utts; seed %d",
             torch.__version__, device, platform.processor() or platform.machine(), torch.get_num_threads(),
             model.num_params(), len(train_set), len(dev_set), tcfg.seed)

    if tcfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=tcfg.lr, momentum=tcfg.momentum, weight_decay=tcfg.weight_decay)
    sampler = BucketBatchSampler(train_set.num_frames, tcfg.max_frames, shuffle=True, seed=tcfg.seed)
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(exp_dir / "tensorboard"))
    (exp_dir / "checkpoints").mkdir(exist_ok=True)
    step, lr_scale, best, prev_dev = 0, 1.0, math.inf, math.inf
    for epoch in range(1, tcfg.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        t0, epoch_loss, frames = time.time(), 0.0, 0
        bar = tqdm(sampler, desc=f"epoch {epoch}/{tcfg.epochs}", unit="batch", disable=not progress, leave=False)
        for indices in bar:
            b = train_set.collate(indices).to(device)
            step += 1
            warm = min(1.0, step / tcfg.warmup_steps) if tcfg.warmup_steps else 1.0
            for g in opt.param_groups:
                g["lr"] = tcfg.lr * lr_scale * warm
            log_probs, out_lengths = model(b.feats, b.lengths)
            loss = model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            if not torch.isfinite(grad_norm):
                log.warning("step %d: non-finite gradient, batch skipped (%s)", step, ", ".join(b.utt_ids[:3]))
                continue
            opt.step()
            epoch_loss += loss.item() * len(indices)
            frames += int(b.lengths.sum())
            writer.add_scalar("train/loss", loss.item(), step)
            bar.set_postfix(loss=f"{loss.item():.2f}")
        elapsed = time.time() - t0
        dev = evaluate(model, dev_set, tok, tcfg.max_frames, device)
        for k, v in dev.items():
            writer.add_scalar(f"dev/{k}", v, epoch)
        writer.add_scalar("train/lr", opt.param_groups[0]["lr"], epoch)
        metric = dev[tcfg.best_metric]
        is_best = metric < best
        msg = (f"epoch {epoch}: train loss {epoch_loss / len(train_set):.3f}, dev loss {dev['loss']:.3f}, "
               f"dev CER {dev['cer']:.2f}%, dev WER {dev['wer']:.2f}%, lr {opt.param_groups[0]['lr']:.2e}, "
               f"{frames / elapsed:.0f} frames/s{' (best)' if is_best else ''}")
        log.info(msg)
        if progress:
            tqdm.write(msg)
        state = {"epoch": epoch, "step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "lr_scale": lr_scale, "best": min(best, metric), "config": full_config, "dev": dev}
        atomic_torch_save(state, exp_dir / "checkpoints" / "last.pt")
        if is_best:
            best = metric
            atomic_torch_save(state, exp_dir / "checkpoints" / "best.pt")
            save_weights(model, exp_dir)
        if tcfg.lr_schedule == "newbob" and prev_dev - dev["loss"] < tcfg.newbob_threshold:
            lr_scale *= 0.5
        prev_dev = min(prev_dev, dev["loss"])
    writer.close()
    return exp_dir
