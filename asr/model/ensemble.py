"""System combination: several CTC models with the same units, features and frame rate decode as one.

Two ways (`combine`):
- `posterior`: each output frame's distribution is the mean of the members' (log of the mean probability).
  Any decoder takes it, but it needs the members' CTC spikes on the same frames: on AN4 dev one trio of seeds made
  18 errors where its members made 22-25, another 31 where they made 20-25 (egs/an4/NOTES.md).
- `sequence`: the lexicon + LM decoder pools the members' N-best lists and ranks each candidate by the mean of the
  members' CTC likelihoods of the whole sequence (asr.decoding.rescore), which needs no shared alignment (the same
  two trios: 16 and 21 errors where their members made 20-25 and 23-29). Decoders without a lexicon (greedy, beam) and the frame-level outputs
  (alignments, spans) use the posterior mean.

Members may differ in anything else: seed, cell, size, dropout. Checkpoint averaging (asr.training.average)
cannot combine models of different seeds, as their weights share no basin.

A model dir holds an ensemble as an ordinary model dir whose config.yaml also has

    ensemble:
      combine: posterior | sequence
      members: [{source: <model dir it came from>, model: <its ModelConfig>}, ...]

(`model:` is the first member's config, which the rest of the toolkit reads: cmn, subsampling) and whose model.pt
has each member's weights under `members.<i>.`. `asr ensemble MODEL_DIR... --out DIR [--combine sequence]`
builds one; decoding, transcription, serving, `.asr` files and int8 take it as any model. Streaming, ONNX export
and gate inspection need one network and say so (check_single).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig

ENSEMBLE = "ensemble"
COMBINE = ("posterior", "sequence")
SHARED = ("input_dim", "vocab_size", "stack_frames", "subsample", "cmn")  # what the members must agree on


class EnsembleCTC(nn.Module):
    """CTCModel's interface over N members: features, lengths -> log of the mean of their CTC posteriors;
    `forward_members` gives each member's (the `sequence` combination rescores with them)."""

    def __init__(self, configs: list[ModelConfig], combine: str = "posterior"):
        super().__init__()
        check_members(configs)
        if combine not in COMBINE:
            raise ConfigError(f"ensemble combine '{combine}': expected {' or '.join(COMBINE)}")
        self.combine = combine
        self.members = nn.ModuleList(CTCModel(c) for c in configs)

    @property
    def config(self) -> ModelConfig:
        """The first member's config: what the members share (units, frame rate, normalisation) is read here."""
        return self.members[0].config

    def forward_members(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's log-probs (M, N, T', V) and the output lengths (N,)."""
        outs = [m(feats, lengths) for m in self.members]
        return torch.stack([lp for lp, _ in outs]), outs[0][1]

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        members, lengths = self.forward_members(feats, lengths)
        return posterior_mean(members), lengths

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def posterior_mean(members: torch.Tensor) -> torch.Tensor:
    """(M, ..., V) members' log-probs -> the log of their mean probability (..., V)."""
    return members.logsumexp(0) - math.log(len(members))


def combines_by_sequence(model) -> bool:
    """Whether `model` is an ensemble whose members are combined by sequence (rescoring), not frame by frame."""
    return getattr(model, "combine", None) == "sequence"


def log_probs_and_members(model: nn.Module, feats: torch.Tensor, lengths: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A model (or ensemble) on a batch: log-probs (N, T', V), output lengths (N,), and the log-probs a rescoring
    decoder scores with (M, N, T', V): an ensemble's members' when it is combined by sequence, else the log-probs
    themselves (M = 1)."""
    if combines_by_sequence(model):
        members, out_lengths = model.forward_members(feats, lengths)
        return posterior_mean(members), out_lengths, members
    log_probs, out_lengths = model(feats, lengths)
    return log_probs, out_lengths, log_probs[None]


def check_single(model: nn.Module, what: str) -> None:
    """Refuse an ensemble where one network is needed (`what` needs it)."""
    if isinstance(model, EnsembleCTC):
        raise ConfigError(f"an ensemble of {len(model.members)} models: {what} takes one network; give one of "
                          "its members' model dirs (config.yaml's ensemble: members: source:)")


def check_members(configs: list[ModelConfig], names: list[str] | None = None) -> None:
    """Refuse members that cannot be averaged frame by frame, naming the first that differs."""
    names = names or [f"member {i + 1}" for i in range(len(configs))]
    if len(configs) < 2:
        raise ConfigError(f"an ensemble needs at least two models, got {len(configs)}")
    for cfg, name in zip(configs, names):
        if getattr(cfg, "streaming", False):
            raise ConfigError(f"{name}: a streaming model; an ensemble decodes whole utterances only")
        for key in SHARED:
            if getattr(cfg, key) != getattr(configs[0], key):
                raise ConfigError(f"{name}: model.{key} is {getattr(cfg, key)!r}, but {names[0]} has "
                                  f"{getattr(configs[0], key)!r}: members must agree on {', '.join(SHARED)}")


def ensemble_from_config(config: dict, where: Path) -> EnsembleCTC:
    """The untrained EnsembleCTC that a model dir's config.yaml `ensemble:` section describes."""
    members = (config.get(ENSEMBLE) or {}).get("members") if isinstance(config.get(ENSEMBLE), dict) else None
    if not isinstance(members, list) or not all(isinstance(m, dict) and "model" in m for m in members):
        raise ConfigError(f"{where}: ensemble: expected members: [{{source: ..., model: {{...}}}}, ...]")
    try:
        configs = [ModelConfig.from_dict(m["model"]) for m in members]
    except TypeError as e:
        raise ConfigError(f"{where}: ensemble member: {e}") from None
    return EnsembleCTC(configs, config[ENSEMBLE].get("combine", "posterior"))


def build_ensemble(model_dirs: list[str | os.PathLike], out_dir: str | os.PathLike, combine: str = "posterior"
                   ) -> Path:
    """Write model dir `out_dir`: the combination (`combine`, see the module doc) of the models in `model_dirs`
    (model dirs or exp dirs, each a single model), which must have the same units and features and agree on
    SHARED."""
    if combine not in COMBINE:
        raise ConfigError(f"--combine {combine}: expected {' or '.join(COMBINE)}")
    from asr.fileio import atomic_torch_save
    from asr.model.store import DECODING, WEIGHTS, load_model_dir, write_config

    dirs = [Path(d) for d in model_dirs]
    out = Path(out_dir)
    if out.resolve() in [d.resolve() for d in dirs]:
        raise ConfigError(f"{out}: the ensemble would overwrite one of its members")
    loaded = [load_model_dir(d) for d in dirs]
    for d, m in zip(dirs, loaded):
        if isinstance(m.model, EnsembleCTC):
            raise ConfigError(f"{d}: already an ensemble; give its members' model dirs")
        if m.tokenizer.tokens != loaded[0].tokenizer.tokens or m.tokenizer.kind != loaded[0].tokenizer.kind:
            raise ConfigError(f"{d}: its units (tokens.txt) differ from {dirs[0]}'s")
        if m.features != loaded[0].features:
            raise ConfigError(f"{d}: its features differ from {dirs[0]}'s: {m.features} vs {loaded[0].features}")
    check_members([m.model.config for m in loaded], [str(d) for d in dirs])
    out.mkdir(parents=True, exist_ok=True)
    (out / DECODING).unlink(missing_ok=True)  # a decoder chosen for an earlier ensemble here is not this one's
    loaded[0].tokenizer.save_dir(out)
    config = {k: v for k, v in loaded[0].config.items() if k != "decoding"}
    config[ENSEMBLE] = {"combine": combine, "members": [{"source": str(d), "model": m.model.config.to_dict()}
                                    for d, m in zip(dirs, loaded)]}
    state = {f"members.{i}.{k}": v for i, m in enumerate(loaded) for k, v in m.model.state_dict().items()}
    atomic_torch_save(state, out / WEIGHTS)
    write_config(out, config)
    return out
