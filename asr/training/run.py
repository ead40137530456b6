"""A training run's fixed parts, set up before the loop (asr.training.trainer): its inputs, checked before anything
is written (check_inputs: the config's sections, the `training:` settings (TrainConfig), the device, the units and
data), the screened data, the model with the training set's global CMVN, SpecAugment, the optimizer, the
batch sampler, this process's rank (asr.training.distributed) and what it writes (asr.training.exp_writer).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from asr.config import check_sections, located, section_from_dict
from asr.data.dataset import FeatureDataset
from asr.data.sampler import BucketBatchSampler
from asr.device import check_device
from asr.errors import ConfigError, DataError
from asr.features.cmvn import accumulate_stats
from asr.features.extract import load_feats_config, speaker_cmvn
from asr.features.kaldi import FeatureConfig
from asr.model.model import SPEAKER_CMN, CTCModel, ModelConfig
from asr.text.tokenizer import Tokenizer, load_tokenizer
from asr.training.augment import AugmentConfig, SpecAugment
from asr.training.checkpoints import data_fingerprint
from asr.training.distributed import Distributed, rank_seed
from asr.training.exp_writer import ExpWriter
from asr.training.loader import available_cores
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
    lr_schedule: str = "constant"  # constant | newbob (halve when the dev loss improves by < newbob_threshold) |
    # cosine (decay from lr to lr * final_lr_scale over the planned epochs, after the warm-up)
    newbob_threshold: float = 0.0
    final_lr_scale: float = 0.01  # cosine only: the last update's lr over `lr`
    grad_clip: float = 5.0
    interctc_weight: float = 0.0  # InterCTC (Lee & Watanabe 2021): the loss is (1 - w) CTC of the last layer + w CTC
    # of encoder layer interctc_layer, both through the one output layer; 0: off. Training only: the model is unchanged
    interctc_layer: int = 0  # 1-based; 0: the middle one (num_layers // 2)
    pronunciations: str = "first"  # phone units, a word with several in the lexicon: first (the target is its
    # first) | all (the loss sums over every one, as a CTC graph composed with the lexicon does; at most
    # MAX_VARIANTS sequences an utterance; the dev greedy error rates count the nearest). Other units have one
    # spelling a word: no difference
    max_frames: int = 20000  # padded input frames per batch
    seed: int = 1
    num_threads: int | str = "auto"  # auto (or 0): the cores available to the process (`training_threads`); exact
    # resume needs the same count as the interrupted run (a resume with another says so)
    checkpoint_every_steps: int = 100  # also at each epoch's end; 0: only there
    max_bad_batches: int = 20  # batches in a row with a non-finite loss/gradient that stop training
    best_metric: str = "loss"  # loss | cer | wer (dev)
    keep_checkpoints: int = 0  # also keep checkpoints/epoch<N>.pt of the last N and best N epochs, for averaging

    @classmethod
    def from_dict(cls, d: dict | None) -> "TrainConfig":
        choices = {"optimizer": ("adam", "sgd"), "lr_schedule": ("constant", "newbob", "cosine"),
                   "best_metric": ("loss", "cer", "wer"),
                   "pronunciations": ("first", "all")}
        if isinstance(d, dict) and "num_threads" in d:
            n = d["num_threads"]
            if not (n == "auto" or (isinstance(n, int) and not isinstance(n, bool) and n >= 0)):
                raise ConfigError(f"{located(d, 'num_threads', 'training.num_threads')}: expected auto or a number "
                                  f"of threads, got {n!r}")
        return section_from_dict(cls, d, "training", choices)


def check_interctc(cfg: TrainConfig, mcfg: ModelConfig) -> None:
    """InterCTC's weight and layer against the model (ConfigError); sets `interctc_layer` 0 to the middle layer."""
    if not 0.0 <= cfg.interctc_weight < 1.0:
        raise ConfigError(f"training.interctc_weight: must be in [0, 1), got {cfg.interctc_weight}")
    if not cfg.interctc_weight:
        return
    if mcfg.bidirectional and mcfg.chunk_size:
        raise ConfigError("training.interctc_weight: a latency-controlled model (model.chunk_size) has no "
                          "intermediate-layer output")
    cfg.interctc_layer = cfg.interctc_layer or mcfg.num_layers // 2
    if not 1 <= cfg.interctc_layer < mcfg.num_layers:
        raise ConfigError(f"training.interctc_layer: must be a layer below the last (1 to {mcfg.num_layers - 1}, "
                          f"or 0 for the middle one), got {cfg.interctc_layer}")


def training_threads(num_threads: int | str) -> int:
    """The torch thread count of `training.num_threads`: a number as it is; auto (or 0) the cores available to
    the process (its CPU affinity), shared among torchrun's processes on this machine (LOCAL_WORLD_SIZE)."""
    if num_threads not in ("auto", 0):
        return int(num_threads)
    return max(1, available_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


MAX_VARIANTS = 64  # target sequences an utterance for `pronunciations: all` (AN4's train needs 64 at most)
SECTIONS = {"model": ModelConfig, "training": TrainConfig, "augment": AugmentConfig}  # of a training config


@dataclass
class Inputs:
    """A training run's settings, device, units, feature settings and data, all checked before anything is
    written (`check_inputs`)."""
    cfg: TrainConfig
    mcfg: ModelConfig  # input_dim and vocab_size from the features and units
    acfg: AugmentConfig
    device: str | None
    tok: Tokenizer
    features: FeatureConfig
    train_dir: Path
    dev_dir: Path
    tokens: Path
    train_set: FeatureDataset
    dev_set: FeatureDataset


def check_inputs(config: dict, train_dir, dev_dir, tokens, exp_dir, device: str | None) -> Inputs:
    """Everything a run needs, checked in the order a user fixes it: the config (its sections, keys and value
    types; errors name file:line or the --set item, and the key), the device, the directories, the units, the
    feature settings and the data. ConfigError/DataError before the exp dir is made or written."""
    check_sections(config, SECTIONS)
    cfg = TrainConfig.from_dict(config.get("training"))
    mcfg = ModelConfig.from_dict(config.get("model"))
    acfg = AugmentConfig.from_dict(config.get("augment"))
    device = check_device(device)
    train_dir, dev_dir, tokens, exp_dir = map(Path, (train_dir, dev_dir, tokens, exp_dir))
    for data_dir in (train_dir, dev_dir):
        if not data_dir.is_dir():
            raise DataError(f"{data_dir}: {'not a directory' if data_dir.exists() else 'no such data directory'}")
    if exp_dir.exists() and not exp_dir.is_dir():
        raise ConfigError(f"{exp_dir}: exists and is not a directory (the exp dir)")
    tok = load_tokenizer(tokens)  # its kind from the files beside tokens.txt (bpe.model, lexicon.txt)
    features = load_feats_config(train_dir)
    acfg.check_features(features)
    if load_feats_config(dev_dir) != features:
        raise ConfigError(f"{dev_dir}: features differ from {train_dir}'s")
    mcfg = dataclasses.replace(mcfg, input_dim=features.dim, vocab_size=len(tok))
    check_interctc(cfg, mcfg)
    def cmvn(data_dir):  # speaker CMN: each utterance normalised by its speaker's stats
        return speaker_cmvn(data_dir, mcfg.cmn == "speaker_mv") if mcfg.cmn in SPEAKER_CMN else None

    variants = MAX_VARIANTS if cfg.pronunciations == "all" else 1
    return Inputs(cfg, mcfg, acfg, device, tok, features, train_dir, dev_dir, tokens,
                  FeatureDataset(train_dir, tok, cmvn(train_dir), variants),
                  FeatureDataset(dev_dir, tok, cmvn(dev_dir), variants))


@dataclass
class Run:
    """What stays fixed while training: settings, data, model and optimizer, this process's rank and writer."""
    cfg: TrainConfig
    config: dict  # config.yaml's: features, model, training, data, augment
    data_fp: dict  # the training data list's fingerprint (asr.training.checkpoints)
    dist: Distributed
    device: torch.device
    tok: Tokenizer
    train_set: FeatureDataset
    dev_set: FeatureDataset
    model: CTCModel
    net: torch.nn.Module  # forward through `net` (DDP all-reduces the gradients), the rest on `model`
    opt: torch.optim.Optimizer
    augment: SpecAugment
    sampler: BucketBatchSampler
    out: ExpWriter


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


def screen_data(inputs: Inputs, subsample: int, out: ExpWriter, strict: bool) -> tuple[FeatureDataset, ...]:
    """The training and dev sets less the utterances screening dropped (listed in `log/{train,dev}_report.txt`)."""
    sets = inputs.train_set, inputs.dev_set
    for name, data, src in zip(("train", "dev"), sets, (inputs.train_dir, inputs.dev_dir)):
        report = screen_dataset(data, inputs.tok, subsample, inputs.cfg.max_frames, name, src)
        path = out.exp_dir / "log" / f"{name}_report.txt"
        out.report(report, path)
        log.log(logging.WARNING if report.rejected else logging.INFO, "%s (%s)", report.summary(), path)
        report.check(strict, path)
        if not len(data):
            raise DataError(f"{src}: no utterance left ({report.summary()}; see {path})")
    return sets


def make_optimizer(cfg: TrainConfig, model: CTCModel, device: torch.device) -> torch.optim.Optimizer:
    fused = device.type in ("cpu", "cuda")  # one kernel for all parameters (bench.ablation --only loop)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           fused=fused)


def set_up(inputs: Inputs, dist: Distributed, out: ExpWriter, strict: bool) -> Run:
    """Seeds, screened data, the model (global CMVN of the training set), SpecAugment, optimizer, sampler."""
    cfg, mcfg, acfg, features = inputs.cfg, inputs.mcfg, inputs.acfg, inputs.features
    device = dist.device(inputs.device)
    torch.set_num_threads(training_threads(cfg.num_threads))
    seed_everything(cfg.seed)
    train_set, dev_set = screen_data(inputs, mcfg.subsample, out, strict)
    model = CTCModel(mcfg)
    model.set_cmvn(training_cmvn_stats(train_set))
    model.to(device)
    net = dist.wrap(model, device)
    if dist.enabled:  # each rank its own dropout and SpecAugment draws
        seed_everything(rank_seed(cfg.seed, dist.rank))
    augment = SpecAugment(acfg, center=-model.cmvn.shift, features=features, subsample=mcfg.subsample).to(device)
    full_config = {"features": features.to_dict(), "model": mcfg.to_dict(), "units": inputs.tok.kind,
                   "training": dataclasses.asdict(cfg),
                   "data": {"train": str(Path(inputs.train_dir).resolve()), "dev": str(Path(inputs.dev_dir).resolve()),
                            "tokens": str(Path(inputs.tokens).resolve())}, "augment": dataclasses.asdict(acfg)}
    data_fp = data_fingerprint(train_set.utt_ids, train_set.num_frames,
                               [f"{t}\t{ids.tolist()}" for t, ids in zip(train_set.texts, train_set.targets)])
    sampler = BucketBatchSampler(train_set.num_frames, cfg.max_frames, shuffle=True, seed=cfg.seed)
    return Run(cfg, full_config, data_fp, dist, device, inputs.tok, train_set, dev_set, model, net,
               make_optimizer(cfg, model, device), augment, sampler, out)
