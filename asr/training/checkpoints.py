"""Training checkpoints, all of them, in the exp dir's `checkpoints/`:

    last.pt, prev.pt   the loop's whole state, for exact resume: every `checkpoint_every_steps` updates and at
                       each epoch's end; `last.pt` written atomically after the one it replaces is kept as `prev.pt`
    best.pt            the same state at the end of the best epoch by the dev metric (model.pt beside it: its weights)
    epoch<N>.pt        one epoch's weights and dev figures, kept for averaging (asr.training.average), indexed by
    epochs.json        epoch -> dev figures; kept: the last `keep` epochs and the best `keep` (their union)

Crash safety: at every moment a complete `last.pt` or `prev.pt` exists, and a newest one that does not load
(truncated, corrupt) is set aside as `last.pt.corrupt` and the previous one used.

A resume checkpoint holds everything needed to go on as if nothing happened: model, optimizer, the loop's state
(position, schedule, bad-batch run, the epoch's figures), every RNG state (python, numpy, torch CPU and CUDA),
and fingerprints of the config and of the training data list. The batch order is rebuilt from (seed, epoch), so
the position is enough. Resuming checks both fingerprints and names what changed (`force` resumes anyway).
Bit-exact resume on CPU also needs the same number of threads (`training.num_threads`; a different count
changes the order of float additions, so the last bits): a resume with another count warns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import zlib
from pathlib import Path

import numpy as np
import torch

from asr.errors import ConfigError
from asr.fileio import atomic_torch_save, atomic_write_text
from asr.training.distributed import Distributed

log = logging.getLogger("asr.train")

LAST, PREV, BEST, INDEX = "last.pt", "prev.pt", "best.pt", "epochs.json"
VERSION = 1
REQUIRED = ("version", "epoch", "batch", "step", "model", "optimizer", "rng", "config", "data")
POSITION = ("epoch", "batch", "epoch_done", "step")  # `batch` global batches of `epoch` done; `epoch_done`: its dev too
SCHEDULE = ("lr_scale", "best", "prev_dev")


# ---- what a resume checkpoint holds -----------------------------------------------------------------------


def make_checkpoint(loop: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer, config: dict,
                    data: dict, dev: dict | None = None) -> dict:
    """The checkpoint of the loop state `loop` (POSITION, SCHEDULE, `bad_batches`, `epoch_stats`) with the
    weights, the optimizer, the RNGs, the config and the data fingerprint (`dev`: the epoch's dev figures)."""
    return {**{k: loop[k] for k in POSITION}, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "schedule": {k: loop[k] for k in SCHEDULE}, "bad_batches": loop["bad_batches"],
            "epoch_stats": dict(loop["epoch_stats"]), "rng": rng_state(), "num_threads": torch.get_num_threads(),
            "config": config, "config_hash": config_fingerprint(config), "data": data, "dev": dev}


def restore(state: dict, path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Load a checkpoint's weights, optimizer and RNG states; returns its loop state (make_checkpoint's `loop`)."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise ConfigError(f"{path}: does not fit this model ({str(e).splitlines()[0]}); use a new --exp-dir") from None
    set_rng_state(state["rng"])
    if state["num_threads"] != torch.get_num_threads():
        log.warning("resuming with %d threads, the run had %d: results may differ in the last bits (an exact "
                    "resume needs the same count: set training.num_threads: %d)", torch.get_num_threads(),
                    state["num_threads"], state["num_threads"])
    log.info("resumed from %s: epoch %d, %d batches done%s, step %d", path, state["epoch"], state["batch"],
             " and evaluated" if state["epoch_done"] else "", state["step"])
    return {**{k: state[k] for k in POSITION}, **{k: state["schedule"][k] for k in SCHEDULE},
            "bad_batches": state["bad_batches"], "epoch_stats": dict(state["epoch_stats"])}


# ---- RNG state --------------------------------------------------------------------------------------------


def rng_state() -> dict:
    """The state of every random generator training uses (plain types and tensors: loads with weights_only)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- fingerprints -----------------------------------------------------------------------------------------


def config_fingerprint(config: dict) -> str:
    """Hash of the config that decides the result (data paths left out: moving a recipe is no change; the units'
    kind too, which the tokens decide and runs begun before it was recorded lack)."""
    kept = {k: v for k, v in config.items() if k not in ("data", "units")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def data_fingerprint(utt_ids: list[str], num_frames: list[int], texts: list[str]) -> dict:
    """The training data list: ids, and per utterance a CRC of (id, frames, transcript); plus their hash."""
    digests = [zlib.crc32(f"{u}\t{n}\t{t}".encode()) for u, n, t in zip(utt_ids, num_frames, texts)]
    h = hashlib.sha256(json.dumps([list(utt_ids), digests]).encode()).hexdigest()
    return {"hash": h, "utts": list(utt_ids), "digests": digests}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(old: dict, new: dict) -> list[str]:
    """`section.key: old -> new` for each setting that differs (data paths ignored)."""
    a = _flatten({k: v for k, v in old.items() if k != "data"})
    b = _flatten({k: v for k, v in new.items() if k != "data"})
    missing = object()
    return [f"{k}: {a.get(k, '(unset)')} -> {b.get(k, '(unset)')}" for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)]


def data_changes(old: dict, new: dict, show: int = 3) -> str:
    """What differs between two data fingerprints, in words ("" when nothing)."""
    if old["hash"] == new["hash"]:
        return ""
    old_d, new_d = dict(zip(old["utts"], old["digests"])), dict(zip(new["utts"], new["digests"]))
    parts = []
    added, removed = [u for u in new_d if u not in old_d], [u for u in old_d if u not in new_d]
    changed = [u for u in new_d if u in old_d and new_d[u] != old_d[u]]
    for what, ids in (("added", added), ("removed", removed), ("changed (transcript or length)", changed)):
        if ids:
            parts.append(f"{len(ids)} utterance{'s' * (len(ids) != 1)} {what} ({', '.join(ids[:show])}"
                         f"{', ...' if len(ids) > show else ''})")
    return "; ".join(parts) or "the order of utterances changed"


def check_resume(state: dict, path: Path, config: dict, data: dict, force: bool) -> None:
    """Refuse to resume a checkpoint made with another config or data list, naming what changed."""
    changes = []
    if state.get("config_hash") != config_fingerprint(config):
        changes += [f"config: {'; '.join(config_changes(state['config'], config)) or 'differs'}"]
    moved = data_changes(state["data"], data)
    if moved:
        changes.append(f"training data: {moved}")
    if not changes:
        return
    what = " | ".join(changes)
    if not force:
        raise ConfigError(f"{path}: cannot resume, {what}; use a new --exp-dir, or --force to resume anyway")
    log.warning("resuming %s despite changes (--force): %s", path, what)


# ---- last.pt and prev.pt: saving and loading --------------------------------------------------------------


def save_checkpoint(state: dict, ckpt_dir: str | os.PathLike) -> Path:
    """Write `last.pt` atomically, keeping the one it replaces as `prev.pt`."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({"version": VERSION, **state}, ckpt_dir / LAST, previous=ckpt_dir / PREV)
    return ckpt_dir / LAST


def load_checkpoint(ckpt_dir: str | os.PathLike) -> tuple[dict, Path] | None:
    """The newest checkpoint that loads (`last.pt`, else `prev.pt`) and its path; None when there is none."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    for stale in list(ckpt_dir.glob(f".{LAST}.*.tmp")) + list(ckpt_dir.glob(f".{PREV}.link")):
        stale.unlink(missing_ok=True)  # a write that was killed half-way
    for name in (LAST, PREV):
        path = ckpt_dir / name
        if not path.exists():
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any failure to load (truncated, corrupt): use the previous one
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            log.warning("%s: unreadable (%s); moved to %s, trying the previous checkpoint", path,
                        str(e).splitlines()[0][:200], aside.name)
            continue
        if not isinstance(state, dict) or any(k not in state for k in REQUIRED) or state["version"] != VERSION:
            raise ConfigError(f"{path}: not a checkpoint this version can resume (made by an older one?); "
                              "use a new --exp-dir")
        return state, path
    return None


def load_resume_state(dist: Distributed, ckpt_dir: str | os.PathLike) -> tuple[dict, Path] | None:
    """The checkpoint to resume from, on every rank: rank 0 chooses it (setting aside a corrupt one), the
    others load the file it names."""
    resumed = load_checkpoint(ckpt_dir) if dist.is_main else None
    if not dist.enabled:
        return resumed
    path = dist.broadcast(str(resumed[1]) if resumed else None)
    if dist.is_main or path is None:
        return resumed
    return torch.load(path, map_location="cpu", weights_only=True), Path(path)


def save_best(state: dict, ckpt_dir: str | os.PathLike) -> None:
    atomic_torch_save(state, Path(ckpt_dir) / BEST)


# ---- epoch<N>.pt and epochs.json: weights kept for averaging ----------------------------------------------


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
    """Save this epoch's weights and dev figures (`state`: epoch, model, dev); delete epochs no longer among
    the last or best `keep`."""
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
