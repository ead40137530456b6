"""The training loop: Adam with warm-up and a constant or cosine-decayed lr (or SGD with newbob halving, as EESEN),
gradient clipping, dev loss/CER/WER each epoch, best and last checkpoints, TensorBoard events, a log, a seed.

The exp dir is a model dir (see asr.model.store) plus `checkpoints/`, `tensorboard/`, `log/`; rank 0 writes it
(asr.training.exp_writer). Crash safety (asr.training.checkpoints): a checkpoint every `checkpoint_every_steps`
updates and at each epoch's end; running the same command again resumes from the newest good one, bit-exact on
CPU with the same thread count. SIGINT/SIGTERM save a checkpoint and stop (asr.training.stop). A batch with a
non-finite loss or gradient is skipped with a warning naming its utterances; `max_bad_batches` in a row stop the
run. Utterances CTC cannot learn from are dropped first and listed in `log/{train,dev}_report.txt`
(asr.training.screen).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import platform
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from asr.data.dataset import Batch, FeatureDataset
from asr.data.sampler import BucketBatchSampler
from asr.decoding.greedy import greedy_decode
from asr.errors import TrainingError
from asr.model.model import CTCModel
from asr.scoring.align import ErrorCounts, count_errors
from asr.text.tokenizer import Tokenizer
from asr.training.checkpoints import (check_resume, load_resume_state, make_checkpoint, restore, rng_state,
                                      set_rng_state)
from asr.training.distributed import Distributed, rank_seed
from asr.training.exp_writer import BatchLog, ExpWriter
from asr.training.loader import BatchLoader
from asr.training.run import Run, TrainConfig, check_inputs, seed_everything, set_up
from asr.training.stop import StopRequest, TrainingInterrupted

log = logging.getLogger("asr.train")
EPOCH_STATS = {"loss": 0.0, "frames": 0, "seconds": 0.0}  # an epoch's train loss (summed), input frames, seconds


@dataclass
class TrainState:
    """Where the loop is, all a checkpoint needs besides weights, optimizer and RNGs: `batch` global batches of
    epoch `epoch` done, `epoch_done` its dev evaluation too; the schedule; bad batches in a row; the epoch's
    figures for its log line."""
    epoch: int = 1
    batch: int = 0
    epoch_done: bool = False
    step: int = 0
    lr_scale: float = 1.0
    best: float = math.inf
    prev_dev: float = math.inf
    bad_batches: int = 0
    epoch_stats: dict = field(default_factory=EPOCH_STATS.copy)

    def next_epoch(self) -> None:
        self.epoch, self.batch, self.epoch_done, self.epoch_stats = self.epoch + 1, 0, False, EPOCH_STATS.copy()

    def checkpoint(self, run: Run, dev: dict | None = None) -> dict:
        return make_checkpoint(dataclasses.asdict(self), run.model, run.opt, run.config, run.data_fp, dev)


def unit_references(data: FeatureDataset, tok: Tokenizer, i: int) -> list[str]:
    """Utterance i's transcript in units, as greedy output is scored against it: every target sequence when the
    dataset has several (`pronunciations: all`), the nearest of which counts, so a model that says a word's
    second pronunciation is not counted wrong; else the one."""
    first = tok.units_text(data.texts[i])
    if data.other_targets is None:
        return [first]
    return [first, *(tok.decode(t.tolist()) for t in data.other_targets[i])]


@torch.inference_mode()
def evaluate(model: CTCModel, data: FeatureDataset, tok: Tokenizer, max_frames: int, device,
             dist: Distributed = Distributed()) -> dict:
    """Dev loss (per utterance), CER and WER with greedy decoding, against the nearest of an utterance's unit
    references (under DDP: each rank a share of the batches, the sums over ranks; every rank gets the same
    figures)."""
    model.eval()
    total_loss, chars, words = 0.0, ErrorCounts(), ErrorCounts()
    batches = list(BucketBatchSampler(data.num_frames, max_frames, shuffle=False))
    for indices in batches[dist.rank::dist.world_size]:
        b = data.collate(indices).to(device)
        log_probs, out_lengths = model(b.feats, b.lengths)
        loss = model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths, b.variants)
        total_loss += loss.item() * len(indices)
        for i, ids in zip(indices, greedy_decode(log_probs, out_lengths)):
            hyp = tok.decode(ids)
            word_errors, ref = min(((count_errors(r.split(), hyp.split()), r) for r in unit_references(data, tok, i)),
                                   key=lambda counted: counted[0].errors)
            chars += count_errors(list(ref.replace(" ", "")), list(hyp.replace(" ", "")))
            words += word_errors
    model.train()
    if dist.enabled:
        sums = dist.sum([total_loss, *dataclasses.astuple(chars), *dataclasses.astuple(words)], device)
        total_loss, chars, words = sums[0], ErrorCounts(*map(int, sums[1:5])), ErrorCounts(*map(int, sums[5:9]))
    return {"loss": total_loss / len(data), "cer": 100 * chars.rate, "wer": 100 * words.rate}


@dataclass
class StepResult:
    """One step's loss (summed over utterances), input frames and utterances, summed over ranks; `skipped`: why
    no update was made (None: one was)."""
    loss: float
    frames: int
    utts: int
    skipped: str | None


def clip_gradients(model: torch.nn.Module, max_norm: float) -> torch.Tensor:
    """`torch.nn.utils.clip_grad_norm_` without its multiply by 1.0 when the norm is within `max_norm` (a pass
    over every gradient that changes nothing); the total norm."""
    params = [p for p in model.parameters() if p.grad is not None]
    norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    if not bool(max_norm / (norm + 1e-6) >= 1.0):  # clip_grad_norm_'s coefficient, as it computes it: below 1 or NaN
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return norm


def train_step(model: CTCModel, opt: torch.optim.Optimizer, b: Batch, grad_clip: float,
               net: torch.nn.Module | None = None, dist: Distributed = Distributed(),
               interctc: tuple[int, float] = (0, 0.0)) -> StepResult:
    """Forward (through `net`, DDP around `model`, when given), CTC loss (with `interctc` = (layer, weight):
    InterCTC's), backward, clipping, optimizer step. A non-finite loss (on any rank: every rank steps, or none)
    or gradient skips the update."""
    layer, weight = interctc if interctc[1] else (0, 0.0)
    log_probs, out_lengths, *inter = (net or model)(b.feats, b.lengths, layer)
    loss = model.ctc_loss(log_probs, out_lengths, b.targets, b.target_lengths, b.variants)
    if inter:
        inter_loss = model.ctc_loss(inter[0], out_lengths, b.targets, b.target_lengths, b.variants)
        loss = (1 - weight) * loss + weight * inter_loss
    opt.zero_grad(set_to_none=True)
    skipped = None if torch.isfinite(loss) else f"non-finite loss ({loss.item()})"
    loss_sum, frames, utts = 0.0 if skipped else loss.item() * len(b.utt_ids), int(b.lengths.sum()), len(b.utt_ids)
    if dist.enabled:
        n_bad, loss_sum, frames, utts = dist.sum([skipped is not None, loss_sum, frames, utts], b.feats.device)
        skipped = skipped or ("non-finite loss on another rank" if n_bad else None)
    if skipped is None:
        loss.backward()
        grad_norm = clip_gradients(model, grad_clip)
        skipped = None if torch.isfinite(grad_norm) else "non-finite gradient"
    if skipped is None:
        opt.step()
    return StepResult(loss_sum, frames, utts, skipped)


def count_bad_batch(run: Run, state: TrainState, b: Batch, why: str) -> None:
    """Warn naming the skipped batch's utterances; stop (TrainingError) at `max_bad_batches` in a row."""
    state.bad_batches += 1
    names = ", ".join(b.utt_ids[:10]) + (", ..." if len(b.utt_ids) > 10 else "")
    log.warning("step %d: %s, batch skipped; its utterances: %s", state.step, why, names)
    if state.bad_batches >= run.cfg.max_bad_batches:
        raise TrainingError(f"stopped: {state.bad_batches} batches in a row had a non-finite loss or gradient "
                            f"(the last, step {state.step}: {names}); check those utterances' features "
                            f"or lower training.lr (log: {run.out.exp_dir / 'log' / 'train.log'})")


def learning_rate(cfg: TrainConfig, step: int, progress: float) -> float:
    """The lr of update `step` (1-based), `progress` (0 to 1) into the planned epochs: a linear warm-up over
    `warmup_steps`, then `lr` (constant, newbob) or a cosine from `lr` down to `lr * final_lr_scale` (cosine)."""
    warm = min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    if cfg.lr_schedule != "cosine":
        return cfg.lr * warm
    decay = cfg.final_lr_scale + (1 - cfg.final_lr_scale) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * warm * decay


def run_epoch(run: Run, state: TrainState, loader: BatchLoader, stop: StopRequest, batch_log: BatchLog) -> None:
    """Train epoch `state.epoch` from global batch `state.batch` on, saving last.pt every `checkpoint_every_steps`
    updates; a signal saves it and stops at the same step on every rank (TrainingInterrupted)."""
    cfg, dist, stats, start = run.cfg, run.dist, state.epoch_stats, state.batch
    run.sampler.set_epoch(state.epoch)
    batches = list(run.sampler)  # the epoch's order, rebuilt from (seed, epoch)
    mine = dist.shard(len(batches), start)  # global indices; `state.batch` counts global batches
    run.model.train()
    t0 = time.time()
    bar = run.out.bar(mine, start // dist.world_size, f"epoch {state.epoch}/{cfg.epochs}")
    for k, (i, b) in enumerate(zip(bar, loader.epoch(state.epoch, [(i, batches[i]) for i in mine]))):
        state.step += 1
        lr = learning_rate(cfg, state.step, (state.epoch - 1 + i / len(batches)) / cfg.epochs) * state.lr_scale
        for g in run.opt.param_groups:
            g["lr"] = lr
        result = train_step(run.model, run.opt, b, cfg.grad_clip, run.net, dist,
                            (cfg.interctc_layer, cfg.interctc_weight))
        if result.skipped:
            count_bad_batch(run, state, b, result.skipped)
        else:
            state.bad_batches = 0
            stats["loss"] += result.loss
            stats["frames"] += result.frames
            run.out.scalar("train/loss", result.loss / result.utts, state.step)
            bar.set_postfix(loss=f"{result.loss / result.utts:.2f}")
        batch_log.write(state.epoch, i, b.utt_ids)
        state.batch = dist.position_after(start, k + 1)
        stopping = dist.any(stop.signum is not None)  # every rank stops at the same step
        if stopping or (cfg.checkpoint_every_steps and state.step % cfg.checkpoint_every_steps == 0):
            stats["seconds"] += time.time() - t0
            t0 = time.time()
            path = run.out.save_last(state.checkpoint(run))
            if stopping:
                raise TrainingInterrupted(stop.signum or signal.SIGTERM, path)
    stats["seconds"] += time.time() - t0
    state.batch = len(batches)  # a remainder of fewer batches than ranks is skipped (asr.training.distributed)


def end_epoch(run: Run, state: TrainState, stop: StopRequest) -> None:
    """Dev figures and the epoch's log line; best.pt and model.pt when best, epoch<N>.pt, the schedule, last.pt."""
    cfg, stats, lr = run.cfg, state.epoch_stats, run.opt.param_groups[0]["lr"]
    rng = rng_state()  # dev evaluation must not move the training RNGs
    dev = evaluate(run.model, run.dev_set, run.tok, cfg.max_frames, run.device, run.dist)
    set_rng_state(rng)
    state.epoch_done = True
    for k, v in dev.items():
        run.out.scalar(f"dev/{k}", v, state.epoch)
    run.out.scalar("train/lr", lr, state.epoch)
    is_best = dev[cfg.best_metric] < state.best
    msg = (f"epoch {state.epoch}: train loss {stats['loss'] / len(run.train_set):.3f}, dev loss {dev['loss']:.3f}, "
           f"dev CER {dev['cer']:.2f}%, dev WER {dev['wer']:.2f}%, lr {lr:.2e}, "
           f"{stats['frames'] / max(stats['seconds'], 1e-9):.0f} frames/s{' (best)' if is_best else ''}")
    log.info(msg)
    run.out.echo(msg)
    state.best = min(state.best, dev[cfg.best_metric])
    ckpt = state.checkpoint(run, dev)
    if is_best:  # best.pt and model.pt before last.pt: a crash in between redoes this epoch's end
        run.out.save_best(ckpt, run.model)
    if cfg.keep_checkpoints:
        run.out.keep_epoch(ckpt, cfg.keep_checkpoints, cfg.best_metric)
    if cfg.lr_schedule == "newbob" and state.prev_dev - dev["loss"] < cfg.newbob_threshold:
        state.lr_scale *= 0.5
    state.prev_dev = min(state.prev_dev, dev["loss"])
    path = run.out.save_last(state.checkpoint(run, dev))
    if run.dist.any(stop.signum is not None):
        raise TrainingInterrupted(stop.signum or signal.SIGTERM, path)


def resume(run: Run, ckpt: dict, path: Path) -> TrainState:
    """The loop state of checkpoint `ckpt`, its weights, optimizer and RNG states loaded."""
    state = TrainState(**restore(ckpt, path, run.model, run.opt))
    if run.dist.enabled:  # rank 0's states were saved: each rank draws anew from (seed, step, rank)
        seed_everything(rank_seed(run.cfg.seed + state.step, run.dist.rank))
    if state.epoch_done:
        state.next_epoch()
    return state


def train(config: dict, train_dir: str | os.PathLike, dev_dir: str | os.PathLike, tokens: str | os.PathLike,
          exp_dir: str | os.PathLike, device: str | None = None, progress: bool = True, force: bool = False,
          strict: bool = False, log_batches: bool = False) -> Path:
    """Train a BiLSTM-CTC model; `config` has `model:` and `training:` sections. Returns the exp dir.

    An exp dir with a checkpoint is resumed; one made with another config or data list is refused unless
    `force`. `strict`: an utterance training cannot use is an error instead of being dropped.
    Under torchrun, data-parallel over its processes (asr.training.distributed); `log_batches`: each rank lists
    the batches it trains in `log/batches.rank<R>.txt`."""
    inputs = check_inputs(config, train_dir, dev_dir, tokens, exp_dir, device)  # before anything is written
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    dist = Distributed.from_env(inputs.device)  # one process without torchrun; rank 0 alone writes into exp_dir
    out = ExpWriter.for_rank(dist.rank, exp_dir, progress)
    run = set_up(inputs, dist, out, strict)
    resumed = load_resume_state(dist, out.ckpt_dir)
    if resumed is not None:  # before anything in the exp dir is overwritten
        check_resume(*resumed, run.config, run.data_fp, force)
    out.model_dir(run.tok, run.config)
    log.info("torch %s on %s (%s), %d threads; %d parameters; train %d utts, dev %d utts; seed %d",
             torch.__version__, run.device, platform.processor() or platform.machine(), torch.get_num_threads(),
             run.model.num_params(), len(run.train_set), len(run.dev_set), run.cfg.seed)
    log.info("%s", dist.describe(run.cfg.max_frames, run.cfg.lr, len(run.sampler)))
    state = TrainState() if resumed is None else resume(run, *resumed)
    out.open_events(state.step)
    batch_log = BatchLog(exp_dir / "log" / f"batches.rank{dist.rank}.txt" if log_batches else None)
    loader = BatchLoader(run.train_set, run.augment, rank_seed(run.cfg.seed, dist.rank), run.device)
    with StopRequest() as stop, contextlib.closing(out), contextlib.closing(batch_log), loader:
        while state.epoch <= run.cfg.epochs:
            run_epoch(run, state, loader, stop, batch_log)
            end_epoch(run, state, stop)
            state.next_epoch()
    if resumed is not None and resumed[0]["epoch_done"] and resumed[0]["epoch"] >= run.cfg.epochs:
        log.info("%s: already trained (%d epochs); nothing to do", exp_dir, run.cfg.epochs)
    dist.close()
    return exp_dir
