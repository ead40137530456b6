"""egs/custom/run.sh end to end on a user's corpus made in a tmp dir from yes/no audio (8 kHz, resampled to the
recipe's 16 kHz): train = a folder of recordings with a lower-case transcript beside each, in speaker folders;
dev = a CSV manifest; test = a JSON-lines manifest. The tiny-corpus config, 3 epochs: plumbing, not accuracy."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import corpus_path
from helpers.recipes import run_recipe, scratch_recipe

pytestmark = pytest.mark.slow


def words(wav: Path) -> str:
    """yes/no file names are their transcripts: 0_1_1_0... -> `no yes yes no ...` (lower case: the recipe's
    `--case upper` default makes them upper)."""
    return " ".join("yes" if b == "1" else "no" for b in wav.stem.split("_"))


def user_corpus(waves: Path, root: Path) -> dict[str, Path]:
    """A folder (train), a CSV manifest (dev) and a JSON-lines manifest (test) of yes/no recordings."""
    files = sorted(waves.glob("*.wav"))
    train, dev, test = files[:8], files[8:11], files[-3:]
    for k, wav in enumerate(train):
        dst = root / "train" / f"speaker{k % 2}" / wav.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wav, dst)
        dst.with_suffix(".txt").write_text(words(wav) + "\n")
    (root / "dev" / "audio").mkdir(parents=True)
    rows = ["path,text,speaker"]
    for wav in dev:
        shutil.copyfile(wav, root / "dev" / "audio" / wav.name)
        rows.append(f"audio/{wav.name},{words(wav).capitalize()}.,dev_speaker")
    (root / "dev" / "dev.csv").write_text("\n".join(rows) + "\n")
    lines = [json.dumps({"audio_filepath": str(wav), "text": words(wav)}) for wav in test]
    (root / "test.jsonl").write_text("\n".join(lines) + "\n")
    return {"train": root / "train", "dev": root / "dev" / "dev.csv", "test": root / "test.jsonl"}


def test_custom_recipe_on_a_folder_and_manifests(tmp_path):
    waves = corpus_path("yesno")
    if waves is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    user_corpus(waves / "waves_yesno", tmp_path / "mine")
    recipe = scratch_recipe(tmp_path / "repo", "custom")
    # run from tmp_path with relative source paths, as a user would from their own folder
    args = ["--train", "mine/train", "--dev", "mine/dev/dev.csv", "--test", "mine/test.jsonl", "--epochs", "3",
            "--avg", "2", "--train-set", "training.keep_checkpoints=3"]
    proc = run_recipe(recipe, *args, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = recipe / "data"
    assert len((data / "train" / "text").read_text().splitlines()) == 8
    assert len((data / "train_sp" / "text").read_text().splitlines()) == 24
    assert sorted(set((data / "train" / "utt2spk").read_text().split()[1::2])) == ["speaker0", "speaker1"]
    dev_words = {w for line in (data / "dev" / "text").read_text().splitlines() for w in line.split()[1:]}
    assert dev_words == {"YES", "NO"}  # `No yes no ....` in the CSV: upper case, no full stop
    # 8 kHz audio, 16 kHz features: resampled, and said so (a warning: upsampling)
    assert "asr: warning: upsampled 24 of 24 recordings from 8000 Hz to 16000 Hz" in proc.stderr
    # sized to the corpus: 8 x 6 s is under 0.1 h, the tiny config; the notes say so
    notes = (data / "local" / "results_notes.md").read_text()
    assert "`conf/train_tiny.yaml` (chosen by the hours of training audio" in notes and "3 epochs" in notes
    assert re.search(r"Training data: 0\.01\d h, 8 utterances", notes), notes
    assert (data / "local" / "lm" / "3gram.arpa").read_text().count("NO") > 0
    last = proc.stdout.strip().splitlines()[-6:]
    dirs = [f"exp/bilstm_ctc_char/decode_{x}_{d}" for x in ("dev", "test") for d in ("greedy", "beam", "lm")]
    for line, d in zip(last, dirs):
        assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / 24, .*\] " + d, line), (line, d)
    config = yaml.safe_load((recipe / "exp" / "bilstm_ctc_char" / "config.yaml").read_text())
    assert config["training"]["keep_checkpoints"] == 3  # --train-set, the template's option
    results = (recipe / "RESULTS.md").read_text()
    assert "Custom corpus: BiLSTM-CTC (char units)" in results and "conf/train_tiny.yaml" in results
    # the same command again: every stage is stamped done; the stamps record the sources (a changed one redoes all)
    again = run_recipe(recipe, *args, cwd=tmp_path)
    assert again.returncode == 0 and "stage 0: data preparation (asr prepare auto): done already" in again.stderr
    stamp = (recipe / "exp" / ".done" / "stage0").read_text().splitlines()
    assert f"dev_src={tmp_path}/mine/dev/dev.csv" in stamp and not any(v.startswith("dev=") for v in stamp)


def test_custom_recipe_needs_train_and_dev(tmp_path):
    recipe = scratch_recipe(tmp_path / "repo", "custom")
    proc = run_recipe(recipe, "--train", "x")
    assert proc.returncode == 1 and "--train and --dev are required" in proc.stderr
    proc = run_recipe(recipe, "--train", "x", "--dev", "y", "--unit", "phone")
    assert proc.returncode == 1 and "--unit must be char or bpe" in proc.stderr
