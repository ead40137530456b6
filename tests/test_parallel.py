"""Jobs through `--cmd` (asr.parallel): the feature stage run as a Slurm job array on the one-node Slurm of
tests/slurm/setup.sh gives byte-identical feats.scp and arks to the local process pool; a failed job is one
line naming its number and log, exit 1; decoding in two jobs (local, Slurm) gives the one-job text. Without a
Slurm the Slurm tests skip, saying why (.ci/run installs it)."""

from __future__ import annotations

import operator
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from asr.data.kaldi_files import read_table, utt2spk_to_spk2utt, write_table
from asr.errors import ConfigError
from asr.parallel import JobError, parse_cmd, run_jobs
from helpers import REPO

SETUP = REPO / "tests" / "slurm" / "setup.sh"
ASR = [sys.executable, "-m", "asr.cli"]


@pytest.fixture(scope="module")
def slurm_env():
    """The environment of a running local Slurm (SLURM_CONF); started here when needed, never installed."""
    proc = subprocess.run(["bash", str(SETUP)], env={**os.environ, "ASR_SLURM_INSTALL": "0"}, capture_output=True,
                          text=True, timeout=300)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not last.startswith("export SLURM_CONF="):
        why = last.replace("slurm setup failed: ", "") or (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"no local Slurm ({why})")
    started = "already running" not in proc.stderr
    yield {**os.environ, "SLURM_CONF": last.split("=", 1)[1]}
    if started:
        subprocess.run(["bash", str(SETUP), "stop"], capture_output=True, timeout=60)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """Seven utterances of noise and tones (16 kHz), two speakers, and a dithering fbank config."""
    rng = np.random.default_rng(0)
    d = tmp_path / "data" / "train"
    d.mkdir(parents=True)
    wav, utt2spk, text = [], [], []
    for i in range(7):
        utt = f"spk{i % 2}-utt{i}"
        t = np.arange(int(16000 * (0.3 + 0.1 * i))) / 16000
        x = 0.2 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(tmp_path / f"{utt}.wav", x, 16000, subtype="PCM_16")
        wav.append(f"{utt} {tmp_path / f'{utt}.wav'}\n")
        utt2spk.append(f"{utt} spk{i % 2}\n")
        text.append(f"{utt} A B\n")
    for name, lines in (("wav.scp", wav), ("utt2spk", utt2spk), ("text", text)):
        (d / name).write_text("".join(sorted(lines)))
    write_table(d / "spk2utt", utt2spk_to_spk2utt(read_table(d / "utt2spk")))
    (tmp_path / "fbank.yaml").write_text(yaml.safe_dump({"num_mel_bins": 23, "dither": 1.0}))
    return d


def feats(data_dir: Path, cmd: str, env: dict | None = None, nj: int = 2) -> subprocess.CompletedProcess:
    root = data_dir.parents[1]
    return subprocess.run([*ASR, "feats", str(data_dir.relative_to(root)), "--conf", "fbank.yaml", "--feat-dir",
                           "fbank", "--nj", str(nj), "--cmd", cmd, "--no-cmvn"], env=env or os.environ, cwd=root,
                          capture_output=True, text=True, timeout=600)


def outputs(data_dir: Path) -> dict[str, bytes]:
    root = data_dir.parents[1]
    files = [data_dir / "feats.scp", data_dir / "utt2num_frames", *sorted((root / "fbank").glob("*.ark"))]
    return {p.name: p.read_bytes() for p in files}


def test_slurm_features_identical_to_local(slurm_env, data_dir):
    local = feats(data_dir, "local")
    assert local.returncode == 0, local.stderr
    expected = outputs(data_dir)
    assert sorted(k for k in expected if k.endswith(".ark")) == [f"raw_fbank_train.{j}.ark" for j in (1, 2)]
    assert (data_dir / "split2utt" / "2" / "wav.scp").is_file()  # the jobs are Kaldi's split<N>utt parts
    for j in (1, 2):
        assert "Slurm job" not in (data_dir / "log" / f"make_fbank.{j}.log").read_text()

    slurm = feats(data_dir, "slurm --time=10", env=slurm_env)
    assert slurm.returncode == 0, slurm.stderr
    assert outputs(data_dir) == expected  # byte for byte: feats.scp, utt2num_frames and every ark
    for j in (1, 2):
        log = (data_dir / "log" / f"make_fbank.{j}.log").read_text()
        assert f"_{j} on " in log and "# Slurm job" in log and "# Ended (code 0)" in log, log


@pytest.mark.parametrize("backend", ["local", "slurm"])
def test_failed_job_is_one_line_naming_job_and_log(backend, data_dir, request):
    env = request.getfixturevalue("slurm_env") if backend == "slurm" else None
    (data_dir.parents[1] / "fbank" / "raw_fbank_train.2.ark").mkdir(parents=True)  # job 2 cannot write its ark
    proc = feats(data_dir, backend, env=env)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("fbank train:")]  # no bar
    log = Path("data") / "train" / "log" / "make_fbank.2.log"
    assert len(lines) == 1 and lines[0].startswith("asr: error: make_fbank: 1 of 2 jobs failed: job 2 "), proc.stderr
    assert f"({log})" in lines[0] and "IsADirectoryError" in lines[0], lines[0]
    assert "Traceback" in (data_dir / "log" / "make_fbank.2.log").read_text()
    assert not (data_dir / "feats.scp").exists()


def test_slurm_task_that_dies_is_reported(slurm_env, tmp_path, monkeypatch):
    """A task killed before it reports (here: os._exit) is a failure too, named with its Slurm id and log."""
    monkeypatch.setenv("SLURM_CONF", slurm_env["SLURM_CONF"])
    monkeypatch.setenv("PYTHONPATH", f"{REPO / 'tests'}:{REPO}")  # the tasks import this module
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JobError, match=r"^exit: 2 of 3 jobs failed: job 2 \(log/exit\.2\.log\): Slurm task \d+_2 "
                                       r"left no result \(.*\); job 3 \(log/exit\.3\.log\): ZeroDivisionError"):
        run_jobs(_exit_or_divide, [(1, 1), (0, 0), (1, 0)], "slurm", "log", "exit")


def _exit_or_divide(a, b):
    if a == 0:
        os._exit(0)
    return a / b


def test_cmd_parsing_and_missing_sbatch(tmp_path, monkeypatch):
    assert parse_cmd("slurm --mem=2G -p cpu") == ("slurm", ["--mem=2G", "-p", "cpu"])
    assert parse_cmd("local --mem 2G") == ("local", [])  # as run.pl: queue options ignored
    with pytest.raises(ConfigError, match="--cmd 'queue.pl': expected local or slurm"):
        parse_cmd("queue.pl")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    with pytest.raises(ConfigError, match=r"^--cmd slurm: sbatch not found on PATH"):
        run_jobs(operator.neg, [(1,)], "slurm", tmp_path / "log", "neg")
    assert run_jobs(operator.neg, [(1,), (2,)], "local --mem 2G", tmp_path / "log", "neg") == [-1, -2]


@pytest.mark.parametrize("cmd", ["local", "slurm"])
def test_decode_in_jobs_gives_the_one_job_text(cmd, yesno_run, yesno_model, tmp_path, request):
    """`asr decode --nj 2 --cmd local|slurm`: the parts decoded in two jobs, merged into the same `text`."""
    env = request.getfixturevalue("slurm_env") if cmd == "slurm" else None
    data = tmp_path / "test_yesno"
    shutil.copytree(yesno_run[0] / "data" / "test_yesno", data, ignore=shutil.ignore_patterns("split*"))
    one = subprocess.run([*ASR, "decode", str(yesno_model), str(data), str(tmp_path / "one"), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([*ASR, "decode", str(yesno_model), str(data), str(tmp_path / "two"), "--nj", "2", "--cmd",
                          cmd], env=env or os.environ, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr
    assert (tmp_path / "two" / "text").read_bytes() == (tmp_path / "one" / "text").read_bytes()
    assert len((tmp_path / "one" / "text").read_text().splitlines()) == 29
    for j in (1, 2):
        assert "# Ended (code 0)" in (tmp_path / "two" / "log" / f"decode.{j}.log").read_text()
    assert yaml.safe_load((tmp_path / "two" / "decode.yaml").read_text())["nj"] == 2
