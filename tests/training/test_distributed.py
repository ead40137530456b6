"""Data-parallel training under torchrun (asr.training.distributed): the sharding rule; the yesno recipe trained
with `--nproc 2` (torchrun, gloo on CPU) to 0.00 WER with disjoint per-rank batches covering each epoch; a
two-process run stopped by SIGTERM and resumed by one process, continuing at the same global batch."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from asr.data.dataset import FeatureDataset
from asr.data.sampler import BucketBatchSampler
from asr.training.distributed import Distributed
from helpers import REPO
from helpers.recipes import recipe_env, scratch_recipe
from helpers.training import CONFIG, make_data

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("num_batches", [1, 7, 12])
def test_shard_is_disjoint_equal_and_skips_less_than_world(world, num_batches):
    for start in (0, 1, 5):
        if start > num_batches:
            continue
        ranks = [Distributed(world, r).shard(num_batches, start) for r in range(world)]
        assert len({len(r) for r in ranks}) == 1  # the same number of steps on every rank
        taken = sorted(i for r in ranks for i in r)
        assert len(taken) == len(set(taken))  # no batch on two ranks
        rest = num_batches - start
        assert taken == list(range(start, start + rest - rest % world))  # only the last rest % world skipped
        assert Distributed(world, 0).position_after(start, len(ranks[0])) == start + len(taken)


def read_batch_logs(exp: Path) -> dict[int, dict[int, dict[int, list[str]]]]:
    """rank -> epoch -> global batch -> utterance ids, from log/batches.rank<R>.txt."""
    out = {}
    for path in sorted((exp / "log").glob("batches.rank*.txt")):
        rank = int(path.name[len("batches.rank"):-len(".txt")])
        for line in path.read_text().splitlines():
            epoch, batch, utts = line.split("\t")
            per_epoch = out.setdefault(rank, {}).setdefault(int(epoch), {})
            assert int(batch) not in per_epoch, f"{path}: batch {batch} of epoch {epoch} twice"
            per_epoch[int(batch)] = utts.split()
    return out


def epoch_batches(data_dir: Path, config: dict, epoch: int) -> list[list[str]]:
    """The epoch's shuffled batch list as the trainer builds it (utterances in sorted id order)."""
    data = FeatureDataset(data_dir)
    sampler = BucketBatchSampler(data.num_frames, config["training"]["max_frames"], shuffle=True,
                                 seed=config["training"]["seed"])
    sampler.set_epoch(epoch)
    return [[data.utt_ids[i] for i in b] for b in sampler]


def test_yesno_recipe_with_two_processes_learns_the_task(yesno_run, tmp_path):
    """`run.sh --nproc 2`: torchrun, 2 CPU processes; each epoch the ranks train disjoint batches that cover
    it (but for the stated remainder), rank 0 alone logs, and the model learns the task (test WER at most 5%;
    0.00 as measured, but yesno's result hangs on the seed and the float rounding: docs/scaling.md)."""
    done = yesno_run[0]
    recipe = scratch_recipe(tmp_path)
    (recipe / "data").symlink_to(done / "data")  # features, tokens: read only
    config = yaml.safe_load((recipe / "conf" / "train.yaml").read_text())
    # the recipe's config as it is (lr not scaled): measured, seed 1 reaches 0.00 and lr x 2 does not (docs/scaling.md)
    (recipe / "conf" / "ddp.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(["bash", "run.sh", "--stage", "4", "--nproc", "2", "--conf", "conf/ddp.yaml",
                           "--tag", "ddp"], cwd=recipe, env={**recipe_env(), "ASR_LOG_BATCHES": "1"},
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torchrun --nnodes 1 --nproc-per-node 2 --standalone -m asr.cli train" in \
        (recipe / "exp" / "log" / "run.log").read_text()
    exp = recipe / "exp" / "ddp"
    log = (exp / "log" / "train.log").read_text()
    assert "world size 2 (gloo; rank 0 logs and saves)" in log
    assert "effective batch: up to 2 x 1500 = 3000 padded frames per update (summed over ranks); lr rule:" in log
    assert len(list((exp / "tensorboard").glob("events.*"))) == 1  # rank 0 alone writes events

    logs = read_batch_logs(exp)
    assert sorted(logs) == [0, 1]
    train_dir = done / "data" / "train_crops"
    for epoch in range(1, config["training"]["epochs"] + 1):
        batches = epoch_batches(train_dir, config, epoch)
        mine = [logs[r].get(epoch, {}) for r in (0, 1)]
        assert len(mine[0]) == len(mine[1]) > 0, f"epoch {epoch}: unequal steps"
        assert not set(mine[0]) & set(mine[1]), f"epoch {epoch}: a batch on both ranks"
        covered = len(batches) - len(batches) % 2
        assert sorted([*mine[0], *mine[1]]) == list(range(covered)), f"epoch {epoch}"
        for r in (0, 1):
            for g, utts in mine[r].items():
                assert utts == batches[g], f"epoch {epoch}, rank {r}, batch {g}"
        seen = [u for r in (0, 1) for utts in mine[r].values() for u in utts]
        assert len(seen) == len(set(seen))  # no utterance twice in an epoch
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("%WER ") and float(last.split()[1]) <= 5.0, proc.stdout


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    from asr.text.tokenizer import CharTokenizer

    config = {**CONFIG, "training": {**CONFIG["training"], "epochs": 3, "checkpoint_every_steps": 0}}
    tokens = root / "tokens.txt"
    CharTokenizer.build(["a b"]).save(tokens)
    (root / "train.yaml").write_text(yaml.safe_dump(config))
    return {"train": make_data(root, "train", 30, 0), "dev": make_data(root, "dev", 6, 1), "tokens": tokens,
            "config": root / "train.yaml"}


def train_args(corpus, exp: Path) -> list[str]:
    return ["-m", "asr.cli", "train", "--config", str(corpus["config"]), "--train-dir", str(corpus["train"]),
            "--dev-dir", str(corpus["dev"]), "--tokens", str(corpus["tokens"]), "--exp-dir", str(exp),
            "--no-progress", "--log-batches"]


def test_two_process_run_stopped_then_resumed_by_one(corpus, tmp_path):
    """SIGTERM to torchrun mid-epoch: every rank stops at the same step and rank 0 saves the position in
    global batches; one process resumes from there; each epoch's batches are then trained exactly once."""
    exp = tmp_path / "exp"
    env = {**recipe_env(), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*TORCHRUN, "--standalone", "--nproc-per-node", "2", *train_args(corpus, exp)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rank0, end = exp / "log" / "batches.rank0.txt", time.time() + 120
    config = yaml.safe_load(corpus["config"].read_text())
    steps = len(epoch_batches(corpus["train"], config, 1)) // 2
    while not (rank0.exists() and len(rank0.read_text().splitlines()) >= steps + 2):  # into epoch 2
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < end, "training never reached epoch 2"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode != 0, out
    assert "checkpoint saved" in out, out
    state = torch.load(exp / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and not state["epoch_done"] and state["batch"] % 2 == 0 and state["batch"] > 0
    stopped = read_batch_logs(exp)
    assert len(stopped[0][2]) == len(stopped[1][2]) == state["batch"] // 2  # both ranks stopped at that step

    for r in (0, 1):  # the second run's batch log (one process: rank 0) is appended; keep the first apart
        shutil.move(exp / "log" / f"batches.rank{r}.txt", tmp_path / f"first.rank{r}.txt")
    resumed = subprocess.run([sys.executable, *train_args(corpus, exp)], env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    log = (exp / "log" / "train.log").read_text()
    assert f"resumed from {exp / 'checkpoints' / 'last.pt'}: epoch 2, {state['batch']} batches done" in log
    assert "world size 1;" in log
    second = read_batch_logs(exp)[0]
    first = {}
    for r in (0, 1):
        for line in (tmp_path / f"first.rank{r}.txt").read_text().splitlines():
            epoch, batch, utts = line.split("\t")
            first.setdefault(int(epoch), []).append(int(batch))
    for epoch in (1, 2, 3):
        n = len(epoch_batches(corpus["train"], config, epoch))
        trained = sorted(first.get(epoch, []) + list(second.get(epoch, {})))
        # epoch 1 by two ranks (a remainder < 2 skipped); epoch 2 continued by one from the global position
        assert trained == list(range(n - n % 2 if epoch == 1 else n)), (epoch, trained)
    assert (exp / "model.pt").exists()
