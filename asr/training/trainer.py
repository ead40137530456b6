"""The training loop: Adam with warm-up (or SGD with newbob halving, as EESEN), gradient clipping,
dev loss/CER/WER each epoch, best and last checkpoints, TensorBoard events, a log, a seed.

The exp dir is a model dir (see asr.model.store) plus `checkpoints/{last,prev,best}.pt`, `tensorboard/`, `log/`.
Crash safety (asr.training.resume): a checkpoint every `checkpoint_every_steps` updates and at each epoch's end;
running the same command again resumes from the newest good one, bit-exact on CPU with the same thread count.
SIGINT/SIGTERM save a checkpoint and stop (TrainingInterrupted). A batch with a non-finite loss or gradient is
skipped with a warning naming its utterances; `max_bad_batches` in a row stop the run. Utterances CTC cannot
learn from are dropped first and listed in `log/{train,dev}_report.txt` (asr.training.screen).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import platform
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from asr.config import section_from_dict
from asr.decoding.greedy import greedy_decode
from asr.errors import ConfigError, DataError, TrainingError
from asr.features.cmvn import accumulate_stats
from asr.features.extract import load_feats_config
from asr.fileio import atomic_torch_save
from asr.model.model import CTCModel, ModelConfig
from asr.model.store import save_weights, write_config
from asr.scoring.align import ErrorCounts, count_errors
from asr.text.tokenizer import Tokenizer, load_tokenizer
from asr.training.augment import AugmentConfig, SpecAugment
from asr.training.checkpoints import keep_epoch_checkpoint
from asr.data.dataset import FeatureDataset
from asr.training.distributed import BatchLog, Distributed, NullWriter, load_resume_state, rank_seed
from asr.training.loader import BatchLoader
from asr.training.resume import (StopRequest, TrainingInterrupted, check_resume, config_fingerprint,
                                 data_fingerprint, rng_state, save_checkpoint, set_rng_state)
from asr.data.sampler import BucketBatchSampler
from asr.training.screen import screen_dataset

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
    num_threads: int = 0  # 0: PyTorch's default; exact resume needs the same count as the interrupted run
    checkpoint_every_steps: int = 100  # also at each epoch's end; 0: only there
    max_bad_batches: int = 20  # batches in a row with a non-finite loss/gradient that stop training
    best_metric: str = "loss"  # loss | cer (dev)
    keep_checkpoints: int = 0  # also keep checkpoints/epoch<N>.pt of the last N and best N epochs, for averaging

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        cfg = section_from_dict(cls, d, "training")
        if cfg.optimizer not in ("adam", "sgd") or cfg.lr_schedule not in ("constant", "newbob"):
            raise ConfigError(f"bad optimizer/lr_schedule: {cfg.optimizer}/{cfg.lr_schedule}")
        return cfg


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_cmvn_stats(data: FeatureDataset):
    """Global CMVN stats (Kaldi layout) of the utterances trained on: the sum of the training speakers' stats in
    cmvn.scp, less the utterances screening dropped."""
    stats = None
    for f in data.feats:
        stats = accumulate_stats(f.numpy(), stats)
    return stats


def _setup_logging(exp_dir: Path) -> None:
    (exp_dir / "log").mkdir(parents=True, exist_ok=True)
    for old in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:  # an earlier run in this process
        log.removeHandler(old)
        old.close()
    handler = logging.FileHandler(exp_dir / "log" / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def clip_grad_norm(model: torch.nn.Module, max_norm: float) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_ (the total norm returned, gradients scaled down to `max_norm` when above it),
    without its multiply-by-one pass over every gradient when the norm is within bounds (1% of a step here)."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    if bool(norm > max_norm):
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return norm


@torch.inference_mode()
def evaluate(model: CTCModel, data: FeatureDataset, tok: Tokenizer, max_frames: int, device,
             dist: Distributed = Distributed()) -> dict:
    """Dev loss (per utterance), CER and WER with greedy decoding (under DDP: each rank a share of the
    batches, the sums over ranks; every rank gets the same figures)."""
    model.eval()
    total_loss, chars, words = 0.0, ErrorCounts(), ErrorCounts()
    batches = list(BucketBatchSampler(data.num_frames, max_frames, shuffle=False))
    for indices in batches[dist.rank::dist.world_size]:
        b = data.collate(indices).to(device)
        log_probs, out_lengths = model(b.feats, b.lengths)
        total_loss += model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths).item() * len(indices)
        for i, ids in zip(indices, greedy_decode(log_probs, out_lengths)):
            hyp, ref = tok.decode(ids), tok.units_text(data.texts[i])
            chars += count_errors(list(ref.replace(" ", "")), list(hyp.replace(" ", "")))
            words += count_errors(ref.split(), hyp.split())
    model.train()
    if dist.enabled:
        sums = dist.sum([total_loss, *dataclasses.astuple(chars), *dataclasses.astuple(words)], device)
        total_loss, chars, words = sums[0], ErrorCounts(*map(int, sums[1:5])), ErrorCounts(*map(int, sums[5:9]))
    return {"loss": total_loss / len(data), "cer": 100 * chars.rate, "wer": 100 * words.rate}


def train(config: dict, train_dir: str | os.PathLike, dev_dir: str | os.PathLike, tokens: str | os.PathLike,
          exp_dir: str | os.PathLike, device: str | None = None, progress: bool = True, force: bool = False,
          strict: bool = False, log_batches: bool = False) -> Path:
    """Train a BiLSTM-CTC model; `config` has `model:` and `training:` sections. Returns the exp dir.

    An exp dir with a checkpoint is resumed; one made with another config or data list is refused unless
    `force`. `strict`: an utterance training cannot use is an error instead of being dropped.
    Under torchrun, data-parallel over its processes (asr.training.distributed); `log_batches`: each rank lists
    the batches it trains in `log/batches.rank<R>.txt`."""
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    dist = Distributed.from_env(device)  # one process without torchrun; rank 0 alone writes into exp_dir
    if dist.is_main:
        _setup_logging(exp_dir)
    tcfg = TrainConfig.from_dict(config.get("training") or {})
    device = dist.device(device)
    if tcfg.num_threads:
        torch.set_num_threads(tcfg.num_threads)
    seed_everything(tcfg.seed)

    tok = load_tokenizer(tokens)  # its kind from the files beside tokens.txt (bpe.model, lexicon.txt)
    features = load_feats_config(train_dir)
    if load_feats_config(dev_dir) != features:
        raise ConfigError(f"{dev_dir}: features differ from {train_dir}'s")
    mcfg = ModelConfig.from_dict({**(config.get("model") or {}), "input_dim": features.dim, "vocab_size": len(tok)})
    train_set, dev_set = FeatureDataset(train_dir, tok), FeatureDataset(dev_dir, tok)
    for name, data, src in (("train", train_set, train_dir), ("dev", dev_set, dev_dir)):
        report = screen_dataset(data, tok, mcfg.subsample, tcfg.max_frames, name, src)
        path = exp_dir / "log" / f"{name}_report.txt"
        if dist.is_main:
            report.write(path)
        log.log(logging.WARNING if report.rejected else logging.INFO, "%s (%s)", report.summary(), path)
        report.check(strict, path)
        if not len(data):
            raise DataError(f"{src}: no utterance left ({report.summary()}; see {path})")
    model = CTCModel(mcfg)
    model.set_cmvn(training_cmvn_stats(train_set))
    model.to(device)
    net = dist.wrap(model, device)  # forward through `net` (DDP all-reduces the gradients), the rest on `model`
    if dist.enabled:  # each rank its own dropout and SpecAugment draws
        seed_everything(rank_seed(tcfg.seed, dist.rank))
    acfg = AugmentConfig.from_dict(config.get("augment"))
    augment = SpecAugment(acfg, center=-model.cmvn.shift).to(device)
    full_config = {"features": features.to_dict(), "model": mcfg.to_dict(), "training": dataclasses.asdict(tcfg),
                   "data": {"train": str(Path(train_dir).resolve()), "dev": str(Path(dev_dir).resolve()),
                            "tokens": str(Path(tokens).resolve())}}
    full_config["augment"] = dataclasses.asdict(acfg)
    data_fp = data_fingerprint(train_set.utt_ids, train_set.num_frames,
                               [f"{t}\t{ids.tolist()}" for t, ids in zip(train_set.texts, train_set.targets)])

    fused = torch.device(device).type in ("cpu", "cuda")  # one kernel for all parameters (bench.ablation --only loop)
    if tcfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay, fused=fused)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=tcfg.lr, momentum=tcfg.momentum, weight_decay=tcfg.weight_decay,
                              fused=fused)
    sampler = BucketBatchSampler(train_set.num_frames, tcfg.max_frames, shuffle=True, seed=tcfg.seed)
    ckpt_dir = exp_dir / "checkpoints"
    resumed = load_resume_state(dist, ckpt_dir)
    if resumed is not None:  # before anything in the exp dir is overwritten
        check_resume(resumed[0], resumed[1], full_config, data_fp, force)
    if dist.is_main:
        tok.save_dir(exp_dir)
        write_config(exp_dir, full_config)
    log.info("torch %s on %s (%s), %d threads; %d parameters; train %d utts, dev %d utts; seed %d",
             torch.__version__, device, platform.processor() or platform.machine(), torch.get_num_threads(),
             model.num_params(), len(train_set), len(dev_set), tcfg.seed)
    log.info("%s", dist.describe(tcfg.max_frames, tcfg.lr, len(sampler)))

    # Position: `batch` batches of epoch `epoch` are done; `epoch_done`: its dev evaluation too.
    epoch, batch, epoch_done, step, bad_run = 1, 0, False, 0, 0
    lr_scale, best, prev_dev = 1.0, math.inf, math.inf
    stats = {"loss": 0.0, "frames": 0, "seconds": 0.0}  # of the current epoch, for its log line
    if resumed is not None:
        state, path = resumed
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise ConfigError(f"{path}: does not fit this model ({str(e).splitlines()[0]}); "
                              "use a new --exp-dir") from None
        epoch, batch, epoch_done, step = state["epoch"], state["batch"], state["epoch_done"], state["step"]
        lr_scale, best, prev_dev = (state["schedule"][k] for k in ("lr_scale", "best", "prev_dev"))
        bad_run, stats = state["bad_batches"], dict(state["epoch_stats"])
        set_rng_state(state["rng"])
        if dist.enabled:  # rank 0's states were saved: each rank draws anew from (seed, step, rank)
            seed_everything(rank_seed(tcfg.seed + step, dist.rank))
        if state["num_threads"] != torch.get_num_threads():
            log.warning("resuming with %d threads, the run had %d: results may differ in the last bits "
                        "(set training.num_threads)", torch.get_num_threads(), state["num_threads"])
        log.info("resumed from %s: epoch %d, %d batches done%s, step %d", path, epoch, batch,
                 " and evaluated" if epoch_done else "", step)
        if epoch_done:
            epoch, batch = epoch + 1, 0
    from torch.utils.tensorboard import SummaryWriter

    writer = (SummaryWriter(str(exp_dir / "tensorboard"), purge_step=step + 1 if step else None) if dist.is_main
              else NullWriter())
    batch_log = BatchLog(exp_dir / "log" / f"batches.rank{dist.rank}.txt" if log_batches else None)

    def save(state: dict) -> Path:
        return save_checkpoint(state, ckpt_dir) if dist.is_main else ckpt_dir / "last.pt"

    def snapshot(batch: int, epoch_done: bool, dev: dict | None = None) -> dict:
        return {"epoch": epoch, "batch": batch, "epoch_done": epoch_done, "step": step, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "schedule": {"lr_scale": lr_scale, "best": best, "prev_dev": prev_dev},
                "bad_batches": bad_run, "epoch_stats": dict(stats), "rng": rng_state(),
                "num_threads": torch.get_num_threads(), "config": full_config,
                "config_hash": config_fingerprint(full_config), "data": data_fp, "dev": dev}

    loader = BatchLoader(train_set, augment, rank_seed(tcfg.seed, dist.rank), device)
    with StopRequest() as stop, contextlib.closing(writer), contextlib.closing(batch_log), loader:
        for epoch in range(epoch, tcfg.epochs + 1):
            sampler.set_epoch(epoch)
            batches = list(sampler)  # the epoch's order, rebuilt from (seed, epoch)
            mine = dist.shard(len(batches), batch)  # global indices; `batch` counts global batches
            if batch == 0:
                stats = {"loss": 0.0, "frames": 0, "seconds": 0.0}
            model.train()
            t0 = time.time()
            done = batch // dist.world_size
            bar = tqdm(mine, initial=done, total=done + len(mine), unit="batch",
                       desc=f"epoch {epoch}/{tcfg.epochs}", disable=not progress or not dist.is_main, leave=False)
            for k, (i, b) in enumerate(zip(bar, loader.epoch(epoch, [(i, batches[i]) for i in mine]))):
                indices = batches[i]
                step += 1
                warm = min(1.0, step / tcfg.warmup_steps) if tcfg.warmup_steps else 1.0
                for g in opt.param_groups:
                    g["lr"] = tcfg.lr * lr_scale * warm
                log_probs, out_lengths = net(b.feats, b.lengths)
                loss = model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths)
                opt.zero_grad(set_to_none=True)
                bad = None if torch.isfinite(loss) else f"non-finite loss ({loss.item()})"
                loss_sum, frames, utts = 0.0 if bad else loss.item() * len(indices), int(b.lengths.sum()), len(indices)
                if dist.enabled:  # all ranks step, or none; the loss, frames and utterances summed over ranks
                    n_bad, loss_sum, frames, utts = dist.sum([bad is not None, loss_sum, frames, utts], device)
                    bad = bad or ("non-finite loss on another rank" if n_bad else None)
                if bad is None:
                    loss.backward()
                    grad_norm = clip_grad_norm(model, tcfg.grad_clip)
                    bad = None if torch.isfinite(grad_norm) else "non-finite gradient"
                if bad is not None:
                    bad_run += 1
                    names = ", ".join(b.utt_ids[:10]) + (", ..." if len(b.utt_ids) > 10 else "")
                    log.warning("step %d: %s, batch skipped; its utterances: %s", step, bad, names)
                    if bad_run >= tcfg.max_bad_batches:
                        raise TrainingError(f"stopped: {bad_run} batches in a row had a non-finite loss or gradient "
                                            f"(the last, step {step}: {names}); check those utterances' features "
                                            f"or lower training.lr (log: {exp_dir / 'log' / 'train.log'})")
                else:
                    bad_run = 0
                    opt.step()
                    stats["loss"] += loss_sum
                    stats["frames"] += frames
                    writer.add_scalar("train/loss", loss_sum / utts, step)
                    bar.set_postfix(loss=f"{loss_sum / utts:.2f}")
                batch_log.write(epoch, i, b.utt_ids)
                stopping = dist.any(stop.signum is not None)  # every rank stops at the same step
                if stopping or (tcfg.checkpoint_every_steps and step % tcfg.checkpoint_every_steps == 0):
                    stats["seconds"] += time.time() - t0
                    t0 = time.time()
                    path = save(snapshot(dist.position_after(batch, k + 1), False))
                    if stopping:
                        raise TrainingInterrupted(stop.signum or signal.SIGTERM, path)
            stats["seconds"] += time.time() - t0
            batch = 0
            rng = rng_state()  # dev evaluation must not move the training RNGs
            dev = evaluate(model, dev_set, tok, tcfg.max_frames, device, dist)
            set_rng_state(rng)
            for k, v in dev.items():
                writer.add_scalar(f"dev/{k}", v, epoch)
            writer.add_scalar("train/lr", opt.param_groups[0]["lr"], epoch)
            metric = dev[tcfg.best_metric]
            is_best = metric < best
            msg = (f"epoch {epoch}: train loss {stats['loss'] / len(train_set):.3f}, dev loss {dev['loss']:.3f}, "
                   f"dev CER {dev['cer']:.2f}%, dev WER {dev['wer']:.2f}%, lr {opt.param_groups[0]['lr']:.2e}, "
                   f"{stats['frames'] / max(stats['seconds'], 1e-9):.0f} frames/s{' (best)' if is_best else ''}")
            log.info(msg)
            if progress and dist.is_main:
                tqdm.write(msg)
            if is_best:  # best.pt and model.pt before last.pt: a crash in between redoes this epoch's end
                best = metric
                if dist.is_main:
                    atomic_torch_save(snapshot(len(batches), True, dev), ckpt_dir / "best.pt")
                    save_weights(model, exp_dir)
            if tcfg.keep_checkpoints and dist.is_main:
                keep_epoch_checkpoint(ckpt_dir, snapshot(len(batches), True, dev), tcfg.keep_checkpoints,
                                      tcfg.best_metric)
            if tcfg.lr_schedule == "newbob" and prev_dev - dev["loss"] < tcfg.newbob_threshold:
                lr_scale *= 0.5
            prev_dev = min(prev_dev, dev["loss"])
            path = save(snapshot(len(batches), True, dev))
            if dist.any(stop.signum is not None):
                raise TrainingInterrupted(stop.signum or signal.SIGTERM, path)
    if resumed is not None and resumed[0]["epoch_done"] and resumed[0]["epoch"] >= tcfg.epochs:
        log.info("%s: already trained (%d epochs); nothing to do", exp_dir, tcfg.epochs)
    dist.close()
    return exp_dir
