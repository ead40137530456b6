"""End to end: egs/fsdd/run.sh on a subset of the real FSDD audio with a tiny model, then its product. Opt-in, since
it takes minutes: ASR_TEST_FSDD_RECIPE=1 pytest tests/recipes/test_recipe_fsdd.py.

The subset (symlinks): 3 recordings per digit of each of the five speakers, so yweweler is still the dev speaker.
data_prep/fsdd.py checks a full copy's 500 recordings per speaker, so the test writes the data dirs itself
(data_prep.fsdd.prepare without the count check) and runs the recipe from stage 1. 40 epochs of a 64-unit model
train in seconds and make the lexicon decoder print digits (dev WER about 43%, greedy about 77%), so the model
dir's decoder is the lexicon one and the product checks compare words, not empty lines."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from data_prep.fsdd import KNOWN_SPEAKERS, WORDS, prepare
from helpers import corpus_path
from helpers.product import best_decode, export, transcribe_api, transcribe_cli
from helpers.recipes import run_recipe, scratch_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("ASR_TEST_FSDD_RECIPE") != "1",
                                                   reason="set ASR_TEST_FSDD_RECIPE=1 (takes minutes)")]
TINY = """model: {cell: lstm, num_layers: 1, hidden_size: 64, dropout: 0.0, stack_frames: 3, subsample: 3,
        cmn: utterance}
training: {epochs: 40, lr: 0.005, max_frames: 3000, seed: 1, keep_checkpoints: 2, num_threads: 1}
augment: {freq_masks: 1, freq_width: 8, time_masks: 1, time_width: 10}
"""
PER_DIGIT = 3


def fsdd_subset(src: Path, root: Path) -> Path:
    """The first PER_DIGIT recordings of each digit of each known speaker, as symlinks under root/recordings."""
    (root / "recordings").mkdir(parents=True)
    for speaker in KNOWN_SPEAKERS:
        for digit in range(10):
            for index in range(PER_DIGIT):
                name = f"{digit}_{speaker}_{index}.wav"
                (root / "recordings" / name).symlink_to(src / "recordings" / name)
    return root


def test_model_transcribes_as_its_best_decode(tmp_path):
    """The recipe decodes greedy, lexicon and lexicon_graph; exp/model records the one with the lowest dev WER (a
    lexicon one), and transcribe, the Transcriber and the exported file print the digit words that decode wrote."""
    src = corpus_path("fsdd")
    if src is None:
        pytest.skip("FSDD corpus not found (set ASR_CORPORA)")
    recipe = scratch_recipe(tmp_path / "repo", "fsdd", ignore=("*.md",))
    (recipe / "conf" / "tiny.yaml").write_text(TINY)
    sets = prepare(fsdd_subset(src, tmp_path / "fsdd"), recipe / "data", per_speaker=None)
    assert sorted(sets) == ["dev", "train"]
    proc = run_recipe(recipe, "--stage", "1", "--conf", "conf/tiny.yaml", "--avg", "2", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = recipe / "exp" / "bilstm_ctc"
    last = proc.stdout.strip().splitlines()[-3:]
    wers = {}
    for line, name in zip(last, ("greedy", "lexicon", "lexicon_graph")):
        m = re.fullmatch(r"%WER (\d+\.\d\d) \[ (\d+) / 30, .* exp/bilstm_ctc/decode_dev_" + name, line)
        assert m, line
        wers[name] = int(m[2])
    model = recipe / "exp" / "model"
    decoding = yaml.safe_load((model / "decoding.yaml").read_text())
    assert wers["lexicon"] < wers["greedy"], last
    assert decoding["name"] in ("lexicon", "lexicon_graph") and decoding["chosen_on"] == "dev", decoding
    assert wers[decoding["name"]] == min(wers.values()), (decoding["name"], wers)
    assert decoding["decoder"] == "lm" and decoding["lexicon"] == "decoding/lexicon.txt", decoding
    assert sorted(Path(d).name for d in decoding["decode_dirs"]) == ["decode_dev_greedy", "decode_dev_lexicon",
                                                                     "decode_dev_lexicon_graph"]
    assert (exp / "decode_dev_lexicon" / "decode.yaml").read_text().count("words.txt")
    scp, expected = best_decode(recipe, "dev", 10 * PER_DIGIT)  # the whole dev speaker: a graph decides them together
    assert set(" ".join(expected.values()).split()) <= set(WORDS), expected
    assert transcribe_cli(model, scp, recipe) == expected
    assert transcribe_api(model, scp, recipe) == expected
    assert transcribe_cli(export(model, tmp_path / "fsdd.asr"), scp, tmp_path) == expected
    card = (model / "README.md").read_text()
    assert f"the recipe's `{decoding['name']}`, the lowest WER on dev" in card
    assert "- recipe run: `run.sh --stage 1 --conf conf/tiny.yaml --avg 2` (started " in card, card
