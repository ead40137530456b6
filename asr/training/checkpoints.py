"""Per-epoch weights kept for checkpoint averaging: `checkpoints/epoch<N>.pt` plus an index `epochs.json`.

Each file holds {"epoch", "model" (state dict), "dev" (loss, cer, wer)}; the index maps epoch -> dev figures so
that choosing what to keep or average needs no checkpoint loaded. Kept: the last `keep` epochs and the best
`keep` by the dev metric (their union); the others are deleted as training goes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from asr.errors import ConfigError
from asr.fileio import atomic_torch_save, atomic_write_text

INDEX = "epochs.json"


def epoch_path(ckpt_dir: str | os.PathLike, epoch: int) -> Path:
    return Path(ckpt_dir) / f"epoch{epoch}.pt"


def read_index(ckpt_dir: str | os.PathLike) -> dict[int, dict]:
    """epoch -> dev figures of the epoch checkpoints present."""
    path = Path(ckpt_dir) / INDEX
    if not path.exists():
        return {}
    try:
        index = {int(k): v for k, v in json.loads(path.read_text()).items()}
    except (ValueError, AttributeError):
        raise ConfigError(f"{path}: not a checkpoint index (epoch -> dev figures)") from None
    return {e: v for e, v in index.items() if epoch_path(ckpt_dir, e).exists()}


def select_epochs(index: dict[int, dict], n: int, by: str = "last", metric: str = "loss") -> list[int]:
    """The `n` last epochs (by="last") or the `n` best by the dev `metric` (by="best"), ascending."""
    if by == "last":
        chosen = sorted(index)[-n:]
    elif by == "best":
        chosen = sorted(index, key=lambda e: (index[e][metric], -e))[:n]
    else:
        raise ConfigError(f"checkpoint selection must be 'last' or 'best', not '{by}'")
    return sorted(chosen)


def keep_epoch_checkpoint(ckpt_dir: str | os.PathLike, state: dict, keep: int, metric: str = "loss") -> None:
    """Save this epoch's weights and dev figures; delete epochs no longer among the last or best `keep`."""
    ckpt_dir = Path(ckpt_dir)
    epoch = state["epoch"]
    atomic_torch_save({"epoch": epoch, "model": state["model"], "dev": state["dev"]}, epoch_path(ckpt_dir, epoch))
    index = read_index(ckpt_dir)
    index[epoch] = dict(state["dev"])
    wanted = set(select_epochs(index, keep, "last")) | set(select_epochs(index, keep, "best", metric))
    for e in list(index):
        if e not in wanted:
            epoch_path(ckpt_dir, e).unlink(missing_ok=True)
            del index[e]
    atomic_write_text(ckpt_dir / INDEX, json.dumps({str(e): index[e] for e in sorted(index)}, indent=1) + "\n")
