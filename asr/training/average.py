"""Checkpoint averaging (ESPnet's `average_checkpoints`, icefall's `--avg`): the element-wise mean of the
weights of several epochs, usually better than any one of them.

Floating-point tensors are averaged (in float64, then cast back); integer buffers (counters) are taken from
the last checkpoint. Every state dict must have the same keys and shapes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from asr.errors import ConfigError
from asr.fileio import atomic_torch_save
from asr.training.checkpoints import epoch_path, read_index, select_epochs


def average_state_dicts(states: list[dict]) -> dict:
    """Element-wise mean of state dicts with the same keys and shapes."""
    if not states:
        raise ConfigError("no checkpoints to average")
    keys = list(states[0])
    for i, s in enumerate(states[1:], 1):
        if list(s) != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise ConfigError(f"checkpoint {i} does not have the keys and shapes of checkpoint 0")
    out = {}
    for k in keys:
        if states[0][k].is_floating_point():
            mean = sum(s[k].double() for s in states) / len(states)
            out[k] = mean.to(states[0][k].dtype)
        else:
            out[k] = states[-1][k].clone()
    return out


def average_exp_dir(exp_dir: str | os.PathLike, out_dir: str | os.PathLike, num: int, by: str = "best",
                    metric: str = "loss") -> tuple[Path, list[int]]:
    """Average the `num` last or best (by dev `metric`) epoch checkpoints of a training exp dir into a new
    model dir `out_dir` (config.yaml and tokenizer files copied). Returns it and the epochs used."""
    from asr.model.store import CONFIG, WEIGHTS

    exp_dir, out_dir = Path(exp_dir), Path(out_dir)
    ckpt = exp_dir / "checkpoints"
    index = read_index(ckpt)
    if not index:
        raise ConfigError(f"{ckpt}: no epoch checkpoints (train with training.keep_checkpoints > 0)")
    if any(metric not in v for v in index.values()):
        raise ConfigError(f"{ckpt}: the checkpoint index has no dev '{metric}'")
    epochs = select_epochs(index, num, by, metric)
    states = [torch.load(epoch_path(ckpt, e), map_location="cpu", weights_only=True)["model"] for e in epochs]
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in exp_dir.iterdir():  # the model dir's other files: config.yaml, tokens.txt, bpe.model, lexicon.txt
        if f.is_file() and f.name != WEIGHTS and (f.name == CONFIG or f.suffix in (".txt", ".model")):
            shutil.copy2(f, out_dir / f.name)
    atomic_torch_save(average_state_dicts(states), out_dir / WEIGHTS)
    return out_dir, epochs
