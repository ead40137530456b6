"""Crash-safe training state: checkpoints that survive `kill -9` anywhere, and exact resume.

`checkpoints/last.pt` is written through a temporary file, fsynced and renamed, after the one it replaces is
kept as `checkpoints/prev.pt`: at every moment a complete checkpoint exists, and a newest one that does not load
(truncated, corrupt) is set aside as `last.pt.corrupt` and the previous one used.

A checkpoint holds everything needed to go on as if nothing happened: model, optimizer, the schedule's state,
every RNG state (python, numpy, torch CPU and CUDA), the position in the epoch (the batch order is rebuilt
from (seed, epoch), so the index of the next batch is enough), and fingerprints of the config and of the
training data list. Resuming checks both and names what changed (`force` resumes anyway).

Bit-exact resume on CPU also needs the same number of threads (`training.num_threads`; a different count changes
the order of float additions, so the last bits): a resume with another count warns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import threading
import zlib
from pathlib import Path

import numpy as np
import torch

from asr.errors import ConfigError
from asr.fileio import atomic_torch_save

log = logging.getLogger("asr.train")

LAST, PREV = "last.pt", "prev.pt"
VERSION = 1
REQUIRED = ("version", "epoch", "batch", "step", "model", "optimizer", "rng", "config", "data")


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
    """Hash of the config that decides the result (data paths left out: moving a recipe is no change)."""
    kept = {k: v for k, v in config.items() if k != "data"}
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


# ---- saving and loading -----------------------------------------------------------------------------------


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


# ---- stopping on a signal ---------------------------------------------------------------------------------


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; exit with 128 + signum."""

    def __init__(self, signum: int, checkpoint: Path):
        super().__init__(f"stopped by {signal.Signals(signum).name}; checkpoint saved to {checkpoint}; "
                         "run the same command again to resume")
        self.signum, self.checkpoint = signum, checkpoint


class StopRequest:
    """While active, SIGINT and SIGTERM only set `signum` (the loop saves and stops at the next step);
    a second signal interrupts at once. Previous handlers come back on exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("%s received: saving a checkpoint at the end of this step", signal.Signals(signum).name)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
        self._old.clear()
