"""End to end: egs/digits/run.sh (FSDD + AN4, phones, speaker augmentation) on a subset of the real audio with a
tiny model, then its product. Opt-in, since it takes a minute or two: ASR_TEST_DIGITS_RECIPE=1 pytest
tests/recipes/test_recipe_digits.py.

The subset: 2 recordings per digit of each FSDD speaker (yweweler still the dev speaker: 20 recordings) and 40
AN4 training / 10 dev recordings (symlinks and data dirs the test writes, as data_prep's count checks want full
copies); the recipe runs from stage 1. Ten epochs of a 32-unit model: plumbing, not accuracy. The model dir's
decoder is the ten-digit lexicon (the FSDD task's), so transcribe prints digit words as the recipe's decode did
(given all of the dev speaker's recordings: the model normalises by the speaker's mean, cmn: speaker)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from asr.data.subset import subset_data_dir
from data_prep import an4, fsdd
from helpers import corpus_path
from helpers.product import best_decode, transcribe_cli
from helpers.recipes import run_recipe, scratch_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("ASR_TEST_DIGITS_RECIPE") != "1",
                                                   reason="set ASR_TEST_DIGITS_RECIPE=1 (takes a minute or two)")]
TINY = """model: {cell: lstm, num_layers: 1, hidden_size: 32, dropout: 0.0, stack_frames: 3, subsample: 3,
        cmn: speaker}
training: {epochs: 10, lr: 0.01, max_frames: 4000, seed: 1, keep_checkpoints: 2, num_threads: 1}
augment: {freq_masks: 1, freq_width: 8, vtlp: 0.1, tilt_db: 10, noise_prob: 0.5, noise_snr_min: 5}
"""
PER_DIGIT = 2


def subset(d: Path, n: int) -> None:
    subset_data_dir(d, d.with_name(d.name + ".sub"), n, how="first")
    shutil.rmtree(d)
    d.with_name(d.name + ".sub").rename(d)


def test_recipe_trains_on_both_corpora_and_its_model_transcribes_digits(tmp_path):
    fsdd_src, an4_src = corpus_path("fsdd"), corpus_path("an4")
    if fsdd_src is None or an4_src is None:
        pytest.skip("FSDD or AN4 corpus not found (set ASR_CORPORA)")
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    for speaker in fsdd.KNOWN_SPEAKERS:
        for digit in range(10):
            for index in range(PER_DIGIT):
                name = f"{digit}_{speaker}_{index}.wav"
                (tmp_path / "fsdd" / "recordings" / name).symlink_to(fsdd_src / "recordings" / name)
    recipe = scratch_recipe(tmp_path / "repo", "digits", ignore=("*.md",))
    (recipe / "conf" / "tiny.yaml").write_text(TINY)
    fsdd.prepare(tmp_path / "fsdd", recipe / "data" / "fsdd", per_speaker=None)
    an4.prepare(an4_src, recipe / "data" / "an4", expected=None)
    subset(recipe / "data" / "an4" / "train", 40)
    subset(recipe / "data" / "an4" / "dev", 10)
    proc = run_recipe(recipe, "--stage", "1", "--conf", "conf/tiny.yaml", "--avg", "2", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-3:]
    assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / 20, .* exp/bilstm_ctc/decode_fsdd_dev_digits", last[0]), last
    assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / 20, .* exp/bilstm_ctc/"
                        r"decode_fsdd_dev_digits_graph", last[1]), last
    assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / \d+, .* exp/bilstm_ctc/decode_an4_dev_lm", last[2]), last
    utts = [line.split()[0] for line in (recipe / "data" / "train" / "utt2spk").read_text().splitlines()]
    assert sum(u.startswith("train_sp-") for u in utts) == 3 * 4 * 10 * PER_DIGIT  # FSDD's speeds 0.9, 1.0, 1.1
    assert sum(u.startswith("train_sp_2-") for u in utts) == 3 * 40  # AN4's, speed-perturbed too (--an4-sp)
    assert sum(u.startswith("train_nb-rate8000-") for u in utts) == 40  # and at 8 kHz (--an4-nb)
    assert (recipe / "data" / "train" / "feats.yaml").read_text().count("sample_rate: 16000") == 1
    config = yaml.safe_load((recipe / "exp" / "bilstm_ctc" / "config.yaml").read_text())
    assert config["augment"]["vtlp"] == 0.1 and config["model"]["cmn"] == "speaker"
    model = recipe / "exp" / "model"
    decoding = yaml.safe_load((model / "decoding.yaml").read_text())
    assert decoding["name"] in ("digits", "digits_graph") and decoding["decoder"] == "lm", decoding
    assert len(decoding["decode_dirs"]) == 2  # the better of the two on FSDD dev
    graph_dir = recipe / "exp" / "bilstm_ctc" / "decode_fsdd_dev_digits_graph"
    graph = yaml.safe_load((graph_dir / "decode.yaml").read_text())
    assert graph["speaker_graph"] == 5 and graph["nbest"] == 1, graph
    lexicon = (model / decoding["lexicon"]).read_text().split("\n")
    assert sorted({line.split()[0] for line in lexicon if line}) == sorted(fsdd.WORDS)
    scp, expected = best_decode(recipe, "fsdd_dev", 20)  # all of the speaker's: transcribe pools their mean
    assert set(" ".join(expected.values()).split()) <= set(fsdd.WORDS), expected
    assert transcribe_cli(model, scp, recipe) == expected
    assert "## WER" in (recipe / "RESULTS.md").read_text()
    # the template's --ensemble, with --train-set's overrides reaching every member
    proc = run_recipe(recipe, "--stage", "5", "--stop-stage", "8", "--conf", "conf/tiny.yaml", "--avg", "2",
                      "--ensemble", "2", "--tag", "ens", "--train-set", "training.epochs=3", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for seed in (1, 3):
        member = yaml.safe_load((recipe / "exp" / "ens" / f"seed{seed}" / "config.yaml").read_text())
        assert member["training"]["epochs"] == 3 and member["training"]["seed"] == seed, member["training"]
    assert (recipe / "exp" / "model").resolve() == (recipe / "exp" / "ens" / "ensemble").resolve()
    assert "%WER" in (recipe / "exp" / "ens" / "decode_fsdd_dev_digits" / "scores.txt").read_text()
