"""End to end: the yesno recipe from corpus to %WER, in a scratch copy of egs/yesno, then `asr transcribe`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, corpus_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def yesno_run(tmp_path_factory):
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "egs" / "yesno", root / "egs" / "yesno",
                    ignore=shutil.ignore_patterns("data", "exp", "fbank"))
    (root / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "ASR_CORPORA": ""}
    proc = subprocess.run(["bash", "run.sh", "--corpus-dir", str(corpus)], cwd=root / "egs" / "yesno", env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "egs" / "yesno", proc


def test_recipe_ends_with_zero_wer_line(yesno_run):
    recipe, proc = yesno_run
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("%WER 0.00 [ 0 / 232, 0 ins, 0 del, 0 sub ]"), proc.stdout
    assert last.endswith("decode_test_yesno")
    for f in ("config.yaml", "tokens.txt", "model.pt"):
        assert (recipe / "exp" / "model" / f).exists()
    log = (recipe / "exp" / "log" / "run.log").read_text()
    assert "torch" in log and "asr train" in log and "seed=1" in log


def test_transcribe_prints_file_and_words(yesno_run):
    recipe, _ = yesno_run
    wav = corpus_path("yesno") / "waves_yesno" / "0_0_0_0_1_1_1_1.wav"
    asr = Path(sys.executable).parent / "asr"
    proc = subprocess.run([str(asr), "transcribe", str(recipe / "exp" / "model"), str(wav)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{wav}\tNO NO NO NO YES YES YES YES\n"


def test_transcribe_bad_file_is_one_line_error(yesno_run, tmp_path):
    recipe, _ = yesno_run
    bad = tmp_path / "bad.wav"
    bad.write_text("hello")
    asr = Path(sys.executable).parent / "asr"
    proc = subprocess.run([str(asr), "transcribe", str(recipe / "exp" / "model"), str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "bad.wav" in proc.stderr
