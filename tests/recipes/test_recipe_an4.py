"""End to end: egs/an4/run.sh on the real AN4 audio with a test partition, a tiny model and 1 epoch (plumbing,
not accuracy). Opt-in, since it takes minutes: ASR_TEST_AN4_RECIPE=1 pytest tests/recipes/test_recipe_an4.py.

The corpus here has no test partition, so one is made: 130 training recordings under 10 new speaker names
(symlinks), which only exercises the recipe's path for a corpus that has `etc/an4_test.*`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers import corpus_path
from helpers.product import best_decode, export, transcribe_api, transcribe_cli
from helpers.recipes import run_recipe, scratch_recipe

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("ASR_TEST_AN4_RECIPE") != "1",
                                                   reason="set ASR_TEST_AN4_RECIPE=1 (takes minutes)")]
TINY = """model: {cell: lstm, num_layers: 1, hidden_size: 32, dropout: 0.0, stack_frames: 3, subsample: 3}
training: {epochs: 2, lr: 0.003, max_frames: 20000, seed: 1, keep_checkpoints: 2, num_threads: 1}
augment: {freq_masks: 1, freq_width: 10, time_masks: 1, time_width: 20}
"""


def an4_with_test(src: Path, root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "wav").mkdir()
    for f in (src / "etc").iterdir():
        (root / "etc" / f.name).symlink_to(f)
    (root / "wav" / "an4_clstk").symlink_to(src / "wav" / "an4_clstk")
    ids = (src / "etc" / "an4_train.fileids").read_text().split()
    trans = (src / "etc" / "an4_train.transcription").read_text().splitlines()
    fileids, lines = [], []
    for k, (fid, line) in enumerate(list(zip(ids, trans))[::7][:130]):
        spk, (prefix, _, suffix) = f"ztst{k % 10}", Path(fid).name.split("-")
        new = f"an4test_clstk/{spk}/t{k}{prefix}-{spk}-{suffix}"
        (root / "wav" / new).parent.mkdir(parents=True, exist_ok=True)
        (root / "wav" / f"{new}.raw").symlink_to(src / "wav" / f"{fid}.raw")
        words = re.sub(r"</?s>", "", line.rsplit("(", 1)[0]).strip()
        fileids.append(new + "\n")
        lines.append(f"{words} ({Path(new).name})\n")
    (root / "etc" / "an4_test.fileids").write_text("".join(fileids))
    (root / "etc" / "an4_test.transcription").write_text("".join(lines))
    return root


def test_recipe_with_test_partition(tmp_path):
    src = corpus_path("an4")
    if src is None:
        pytest.skip("AN4 corpus not found (set ASR_CORPORA)")
    corpus = an4_with_test(src, tmp_path / "an4")
    recipe = scratch_recipe(tmp_path / "repo", "an4", ignore=("*.md",))
    (recipe / "conf" / "tiny.yaml").write_text(TINY)
    proc = run_recipe(recipe, "--corpus-dir", str(corpus), "--conf", "conf/tiny.yaml", "--avg", "2",
                      "--unit", "char", "--ensemble", "1",
                      timeout=3000)  # char units decode all three ways (phones only with the lexicon)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-6:]
    dirs = [f"exp/bilstm_ctc_char/decode_{x}_{d}" for x in ("dev", "test") for d in ("greedy", "beam", "lm")]
    for line, d in zip(last, dirs):
        assert re.fullmatch(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \] " + d, line), line
    assert "/ 545," in last[0] and "/ 726," in last[3]  # dev and test word counts
    assert (recipe / "exp" / "model").resolve() == (recipe / "exp" / "bilstm_ctc_char" / "ave_2").resolve()
    assert (recipe / "exp" / "bilstm_ctc_char" / "decode_test_lm" / "decode.yaml").read_text().count("lm_params.yaml")
    results = (recipe / "RESULTS.md").read_text()
    assert "|decode_test_lm|130|726|" in results and "## Wall time of each stage" in results


def test_phone_model_transcribes_words_as_its_recipe_scored(tmp_path):
    """The phone model (the recipe's default: three, combined by sequence) decodes only through the lexicon + LM
    (and the spelling LM): exp/model carries them, and transcribe, the Transcriber and the exported file print the
    words the recipe's dev decode wrote (the same N-best rescoring)."""
    src = corpus_path("an4")
    if src is None:
        pytest.skip("AN4 corpus not found (set ASR_CORPORA)")
    recipe = scratch_recipe(tmp_path / "repo", "an4", ignore=("*.md",))
    (recipe / "conf" / "tiny.yaml").write_text(TINY)
    proc = run_recipe(recipe, "--corpus-dir", str(src), "--conf", "conf/tiny.yaml", "--avg", "2", timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = recipe / "exp" / "model"
    assert model.resolve() == (recipe / "exp" / "bilstm_ctc_phone" / "ensemble").resolve()
    decoding = (model / "decoding.yaml").read_text()
    assert "nbest: 20" in decoding
    assert "decoder: lm" in decoding and "lm: decoding/lm.arpa" in decoding and (model / "decoding" / "lm.arpa").is_file()
    assert "spell_lm: decoding/spell_lm.arpa" in decoding and "spell_weight: 1.0" in decoding  # spelled words
    scp, expected = best_decode(recipe, "dev", 6)
    words = {line.split()[0] for line in (recipe / "data" / "local" / "dict" / "lexicon.txt").read_text().splitlines()}
    assert set(" ".join(expected.values()).split()) <= words  # words, not phones
    assert transcribe_cli(model, scp, recipe) == expected
    assert transcribe_api(model, scp, recipe) == expected
    assert transcribe_cli(export(model, tmp_path / "an4.asr"), scp, tmp_path) == expected
    assert "decoder: lm (" in (model / "README.md").read_text()
