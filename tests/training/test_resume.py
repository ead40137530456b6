"""Crash-safe training: SIGKILL/SIGTERM at random moments, then resume, ends bit-identical to an uninterrupted
run; checkpoints fall back past a corrupt one; a changed config or data list is refused; bad batches skipped."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from asr.data.screen import read_report
from asr.errors import ConfigError, TrainingError
from asr.text.tokenizer import CharTokenizer
from asr.training.checkpoints import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from asr.training.trainer import train
from helpers import REPO
from helpers.training import CONFIG, make_data


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    train_dir, dev_dir = make_data(root, "train", 30, 0), make_data(root, "dev", 6, 1)
    tokens = root / "tokens.txt"
    CharTokenizer.build(["a b"]).save(tokens)
    config = root / "train.yaml"  # cosine: the lr of a resumed step comes from the saved position alone
    config.write_text(yaml.safe_dump({**CONFIG, "training": {**CONFIG["training"], "lr_schedule": "cosine"}}))
    return {"train": train_dir, "dev": dev_dir, "tokens": tokens, "config": config}


def train_cmd(corpus, exp: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "asr.cli", "train", "--config", str(corpus["config"]), "--train-dir",
            str(corpus["train"]), "--dev-dir", str(corpus["dev"]), "--tokens", str(corpus["tokens"]),
            "--exp-dir", str(exp), "--no-progress", *extra]


def final_state(exp: Path) -> tuple[dict, dict]:
    last = torch.load(exp / "checkpoints" / "last.pt", weights_only=True)
    return last, torch.load(exp / "model.pt", weights_only=True)


def assert_same_tensors(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.01)


def wait_for_step(ckpt: Path, proc: subprocess.Popen, step: int, timeout: float = 120) -> None:
    """Poll the checkpoint (renamed into place, so always whole) until it is at `step` or later."""
    end, seen = time.time() + timeout, None
    while True:
        assert proc.poll() is None, f"finished before step {step}: {proc.stderr.read()}"
        assert time.time() < end, f"never reached step {step}"
        try:
            stat = ckpt.stat()
            if (stat.st_ino, stat.st_mtime_ns) != seen:
                seen = (stat.st_ino, stat.st_mtime_ns)
                if torch.load(ckpt, weights_only=True)["step"] >= step:
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.005)


def test_killed_runs_resume_bit_identical(corpus, tmp_path):
    """SIGKILL at a random step, resume, SIGTERM at a later random step, resume: the final weights are
    bit-identical to an uninterrupted run's."""
    seed = int(os.environ.get("ASR_TEST_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ref = tmp_path / "ref"
    train(yaml.safe_load(corpus["config"].read_text()), corpus["train"], corpus["dev"], corpus["tokens"], ref,
          progress=False)
    total = torch.load(ref / "checkpoints" / "last.pt", weights_only=True)["step"]
    kill_at = sorted(rnd.sample(range(1, total - 10), 2))

    exp, ckpt, stopped = tmp_path / "killed", tmp_path / "killed" / "checkpoints" / "last.pt", []
    for sig, at in zip((signal.SIGKILL, signal.SIGTERM), kill_at):
        proc = subprocess.Popen(train_cmd(corpus, exp), env=env, stderr=subprocess.PIPE, text=True)
        wait_for_step(ckpt, proc, max(at, stopped[-1] + 1 if stopped else 0))  # a checkpoint of this process
        time.sleep(rnd.uniform(0, 0.02))  # anywhere in the step, or in the writing of a checkpoint
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
        err = proc.stderr.read()
        assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM), (seed, err)
        if sig == signal.SIGTERM:
            assert "checkpoint saved" in err and "run the same command again" in err, err
        stopped.append(torch.load(ckpt, weights_only=True)["step"])
    proc = subprocess.run(train_cmd(corpus, exp), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr

    (ref_last, ref_model), (last, model) = final_state(ref), final_state(exp)
    assert kill_at[0] <= stopped[0] and kill_at[1] <= stopped[1] < total, (seed, kill_at, stopped)
    assert_same_tensors(ref_model, model, f"model.pt (seed {seed})")
    assert_same_tensors(ref_last["model"], last["model"], f"last.pt model (seed {seed})")
    assert_same_tensors(ref_last["optimizer"], last["optimizer"], f"last.pt optimizer (seed {seed})")
    log = (exp / "log" / "train.log").read_text()
    assert log.count("resumed from") == 2
    # the epoch lines (train loss, dev figures) are those of the uninterrupted run
    def epochs(text):
        return sorted({line.split(" INFO ")[1].split(", lr")[0] for line in text.splitlines()
                       if " INFO epoch " in line})
    assert epochs(log) == epochs((ref / "log" / "train.log").read_text())


def test_rerun_of_a_finished_run_changes_nothing(corpus, tmp_path):
    exp = tmp_path / "exp"
    config = yaml.safe_load(corpus["config"].read_text())
    config["training"]["epochs"] = 2
    train(config, corpus["train"], corpus["dev"], corpus["tokens"], exp, progress=False)
    before = (exp / "model.pt").read_bytes(), (exp / "checkpoints" / "last.pt").read_bytes()
    train(config, corpus["train"], corpus["dev"], corpus["tokens"], exp, progress=False)
    assert ((exp / "model.pt").read_bytes(), (exp / "checkpoints" / "last.pt").read_bytes()) == before
    assert "already trained" in (exp / "log" / "train.log").read_text()


def test_truncated_newest_checkpoint_falls_back_to_previous(tmp_path):
    ckpt = tmp_path / "checkpoints"
    base = {"epoch": 1, "batch": 0, "epoch_done": False, "model": {}, "optimizer": {}, "rng": rng_state(),
            "config": {}, "data": {}}
    save_checkpoint({**base, "step": 1}, ckpt)
    save_checkpoint({**base, "step": 2}, ckpt)
    assert load_checkpoint(ckpt)[0]["step"] == 2
    assert torch.load(ckpt / "prev.pt", weights_only=True)["step"] == 1
    data = (ckpt / "last.pt").read_bytes()
    (ckpt / "last.pt").write_bytes(data[: len(data) // 2])
    state, path = load_checkpoint(ckpt)
    assert (state["step"], path.name) == (1, "prev.pt")
    assert (ckpt / "last.pt.corrupt").exists() and not (ckpt / "last.pt").exists()
    save_checkpoint({**base, "step": 3}, ckpt)  # the corrupt one is never kept as the previous
    assert torch.load(ckpt / "prev.pt", weights_only=True)["step"] == 1


def test_rng_state_round_trip():
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])


def test_changed_config_or_data_is_refused_naming_the_change(corpus, tmp_path):
    exp = tmp_path / "exp"
    config = yaml.safe_load(corpus["config"].read_text())
    config["training"]["epochs"] = 1
    train(config, corpus["train"], corpus["dev"], corpus["tokens"], exp, progress=False)
    written = (exp / "config.yaml").read_text()
    changed = {**config, "training": {**config["training"], "lr": 0.5}}
    with pytest.raises(ConfigError, match=r"training\.lr: 0\.01 -> 0\.5.*--force"):
        train(changed, corpus["train"], corpus["dev"], corpus["tokens"], exp, progress=False)
    assert (exp / "config.yaml").read_text() == written  # nothing overwritten by the refused run

    other = make_data(tmp_path, "train", 31, 0)  # one more utterance: spk0-train030
    with pytest.raises(ConfigError, match=r"training data: 1 utterance added \(spk0-train030\)"):
        train(config, other, corpus["dev"], corpus["tokens"], exp, progress=False)
    more = {**config, "training": {**config["training"], "epochs": 2}}
    train(more, corpus["train"], corpus["dev"], corpus["tokens"], exp, progress=False, force=True)
    assert load_checkpoint(exp / "checkpoints")[0]["epoch"] == 2


def poison(monkeypatch, bad: set[str]) -> None:
    """Batches holding an utterance of `bad` get a NaN in their features (after screening, which drops
    utterances whose features are not finite): a numerical accident in the middle of training."""
    from asr.data.dataset import FeatureDataset

    collate = FeatureDataset.collate

    def poisoned(self, indices):
        b = collate(self, indices)
        for i, utt in enumerate(b.utt_ids):
            if utt in bad:
                b.feats[i, 3, 2] = float("nan")
        return b

    monkeypatch.setattr(FeatureDataset, "collate", poisoned)


def test_non_finite_batches_are_skipped_and_named(tmp_path, caplog, monkeypatch):
    train_dir, dev_dir = make_data(tmp_path, "train", 12, 0), make_data(tmp_path, "dev", 4, 1)
    CharTokenizer.build(["a b"]).save(tmp_path / "tokens.txt")
    poison(monkeypatch, {"spk1-train005"})
    config = {**CONFIG, "training": {**CONFIG["training"], "epochs": 2}}
    with caplog.at_level(logging.WARNING, logger="asr.train"):
        train(config, train_dir, dev_dir, tmp_path / "tokens.txt", tmp_path / "exp", progress=False)
    skipped = [r.message for r in caplog.records if "batch skipped" in r.message]
    assert len(skipped) == 2 and all("non-finite loss" in m and "spk1-train005" in m for m in skipped)
    weights = torch.load(tmp_path / "exp" / "model.pt", weights_only=True)
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_many_bad_batches_in_a_row_stop_training(tmp_path, monkeypatch):
    train_dir, dev_dir = make_data(tmp_path, "train", 8, 0), make_data(tmp_path, "dev", 4, 1)
    CharTokenizer.build(["a b"]).save(tmp_path / "tokens.txt")
    poison(monkeypatch, {f"spk{i % 2}-train{i:03d}" for i in range(8)})
    config = {**CONFIG, "training": {**CONFIG["training"], "max_bad_batches": 3, "max_frames": 60}}
    with pytest.raises(TrainingError, match=r"3 batches in a row had a non-finite loss or gradient .*spk"):
        train(config, train_dir, dev_dir, tmp_path / "tokens.txt", tmp_path / "exp", progress=False)


def test_utterances_with_non_finite_features_are_screened_out(tmp_path):
    train_dir = make_data(tmp_path, "train", 12, 0, nan_utts=("spk1-train005",))
    dev_dir = make_data(tmp_path, "dev", 4, 1)
    CharTokenizer.build(["a b"]).save(tmp_path / "tokens.txt")
    config = {**CONFIG, "training": {**CONFIG["training"], "epochs": 1}}
    train(config, train_dir, dev_dir, tmp_path / "tokens.txt", tmp_path / "exp", progress=False)
    report = read_report(tmp_path / "exp" / "log" / "train_report.txt")
    assert [(r.utt, r.reason) for r in report.rejected] == [("spk1-train005", "non-finite features")]
    weights = torch.load(tmp_path / "exp" / "model.pt", weights_only=True)
    assert all(torch.isfinite(w).all() for w in weights.values())
