"""End to end: the yesno recipe from corpus to %WER, in a scratch copy of egs/yesno, then `asr transcribe`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import corpus_path
from helpers.product import best_decode, export, transcribe_api, transcribe_cli

pytestmark = pytest.mark.slow


def test_recipe_ends_with_zero_wer_line(yesno_run):
    recipe, proc = yesno_run
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("%WER 0.00 [ 0 / 232, 0 ins, 0 del, 0 sub ]"), proc.stdout
    assert last.endswith("decode_test_yesno_greedy")
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


def test_the_model_transcribes_as_its_recipe_scored(yesno_run, tmp_path):
    """exp/model records the recipe's decoder; transcribe, the Transcriber and the exported file, given no decoder
    options, print exactly the words of the recipe's decode dir for the same recordings."""
    recipe, _ = yesno_run
    model = recipe / "exp" / "model"
    assert "decoder: greedy" in (model / "decoding.yaml").read_text()
    scp, expected = best_decode(recipe, "test_yesno", 4)
    assert transcribe_cli(model, scp, recipe) == expected
    assert transcribe_api(model, scp, recipe) == expected
    assert transcribe_cli(export(model, tmp_path / "yesno.asr"), scp, recipe) == expected


def test_the_model_card(yesno_run):
    recipe, _ = yesno_run
    card = (recipe / "exp" / "model" / "README.md").read_text()
    for part in ("units: word, 5 tokens", "words: 2 (the units)", "8000 Hz", "M parameters",
                 "train data:", "69 utterances",  # 27 files and 42 start-cropped copies (local/crops.py) "decoder: greedy (best path): the recipe's `greedy`",
                 "%WER 0.00 [ 0 / 232, 0 ins, 0 del, 0 sub ] decode_test_yesno_greedy",
                 "- recipe run: `run.sh --corpus-dir ", ", git "):
        assert part in card, card


def test_an_ensemble_recipe_decodes_the_mean_of_its_models(tmp_path):
    """--ensemble 2: two models (seeds 1 and 3), each checkpoint-averaged, combined into exp/<tag>/ensemble,
    which exp/model links to and which transcribes as its decode scored."""
    import yaml

    from helpers.recipes import run_recipe, scratch_recipe

    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    recipe = scratch_recipe(tmp_path)
    bad = run_recipe(recipe, "--ensemble", "two")
    assert bad.returncode != 0 and "--ensemble: a number of models" in bad.stderr
    bad = run_recipe(recipe, "--combine", "mean")
    assert bad.returncode != 0 and "--combine: sequence or posterior, not 'mean'" in bad.stderr
    proc = run_recipe(recipe, "--corpus-dir", str(corpus), "--ensemble", "2", "--train-set", "training.epochs=6",
                      "--tag", "ens")  # --train-set (the template's) reaches every member
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].endswith("exp/ens/decode_test_yesno_greedy")
    model = recipe / "exp" / "model"
    assert model.resolve() == (recipe / "exp" / "ens" / "ensemble").resolve()
    ensemble = yaml.safe_load((model / "config.yaml").read_text())["ensemble"]
    members = ensemble["members"]
    assert ensemble["combine"] == "sequence"  # the recipes' default
    assert [m["source"] for m in members] == ["exp/ens/seed1/ave_4", "exp/ens/seed3/ave_4"]
    for seed in (1, 3):
        config = yaml.safe_load((recipe / "exp" / "ens" / f"seed{seed}" / "config.yaml").read_text())
        assert config["training"]["seed"] == seed and config["training"]["epochs"] == 6
    assert "training 2 models (seeds 1 3)" in (recipe / "exp" / "log" / "run.log").read_text()
    scp, expected = best_decode(recipe, "test_yesno", 4)
    assert transcribe_cli(model, scp, recipe) == expected
