"""The spelling LM (asr.decoding.spelling): its text (data_prep/spelling.py), its score, the N-best rescoring it
joins, and the model dir / `.asr` file / CLI that carry it."""

from __future__ import annotations

import math
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.decoding.best import set_decoder
from asr.decoding.config import DecoderConfig
from asr.decoding.ngram import ArpaLM, NGramLM
from asr.decoding.rescore import NBestRescorer
from asr.decoding.spelling import SpellingLM
from asr.errors import ConfigError, DataError
from asr.export.package import export_model, load_model
from asr.model.store import load_model_dir
from asr.scoring.results import how
from asr.text.tokenizer import CharTokenizer
from data_prep.spelling import letter_runs, spelling_text
from helpers.decode import TOKENS, frames
from helpers.transcribe import make_model_dir


@pytest.fixture
def spell_arpa(tmp_path) -> Path:
    """A letter bigram that has only seen A B spelled (and B alone, so that B is a letter it knows)."""
    return NGramLM(["A B"] * 10 + ["B"], order=2).to_arpa(tmp_path / "spell.arpa")


def test_the_text_spells_each_ascii_word_once_then_the_texts_letter_runs():
    lines, counts = spelling_text({"list": ["Linda", "LINDA", "O'Neil", "naïve", "Ed"], "more": ["ed", "Amy"]},
                                  ["ENTER L I N D A FIVE", "A B", "X", "FIVE C D"])
    assert lines == ["L I N D A", "E D", "A M Y", "L I N D A", "A B", "C D"]
    assert counts == {"list": 2, "more": 1, "letter runs of the text": 3}
    assert spelling_text({"list": ["Ed"]}, case="lower")[0] == ["e d"]
    assert list(letter_runs(["A", "B C ONE D"])) == [["B", "C"]]


def test_the_spelling_lm_scores_spelled_hypotheses_only(spell_arpa, tmp_path):
    spelling, lm = SpellingLM(spell_arpa), ArpaLM(spell_arpa)
    assert spelling.letters == {"A", "B"}
    assert spelling.score(("A", "B")) == pytest.approx(lm.score(("A", "B")) + 3 * math.log(3))
    assert spelling.score(("A", "B")) > 0 > spelling.score(("B", "A"))  # above and below uniform letters
    for words in [("A",), ("AB",), ("A", "C"), ("A", "ONE"), ()]:
        assert spelling.score(words) == 0.0
    words_lm = NGramLM(["ONE TWO"], order=2).to_arpa(tmp_path / "words.arpa")
    with pytest.raises(DataError, match="words.arpa: not a spelling LM"):
        SpellingLM(words_lm)
    with pytest.raises(DataError, match="nothing.arpa: no such language model file"):
        SpellingLM(tmp_path / "nothing.arpa")


def test_the_spelling_lm_reranks_the_n_best(spell_arpa):
    """The frames say B A a little more than A B; the spelling LM knows A B."""
    tok = CharTokenizer(TOKENS)
    lp = frames({"B": 0.55, "A": 0.45}, {"<blank>": 1}, {"<space>": 1}, {"A": 0.55, "B": 0.45}, {"<blank>": 1})
    assert NBestRescorer(tok, ["A", "B"]).decode_one(lp[None]) == ["B", "A"]
    assert NBestRescorer(tok, ["A", "B"], spell_lm=spell_arpa, spell_weight=1.0).decode_one(lp[None]) == ["A", "B"]
    assert NBestRescorer(tok, ["A", "B"], spell_lm=spell_arpa, spell_weight=0.0).decode_one(lp[None]) == ["B", "A"]


def test_a_spelling_lm_turns_rescoring_on_and_needs_it(spell_arpa):
    config = DecoderConfig(decoder="lm", lexicon="words.txt", spell_lm=str(spell_arpa)).resolved()
    assert (config.nbest, config.spell_weight) == (20, 1.0)
    assert DecoderConfig(decoder="lm", lexicon="words.txt").resolved().nbest == 1
    with pytest.raises(ConfigError, match="spelling LM acts in the N-best rescoring"):
        DecoderConfig(decoder="lm", lexicon="words.txt", spell_lm=str(spell_arpa), nbest=1).check()


def test_the_model_dir_and_its_file_carry_the_spelling_lm(spell_arpa, tmp_path, monkeypatch, tone_wav):
    monkeypatch.chdir(tmp_path)
    exp = make_model_dir(tmp_path / "exp")
    (tmp_path / "words.txt").write_text("YES\nNO\n")
    d = exp / "decode_dev_lm"
    d.mkdir()
    settings = {"model": "m", "data": "data/dev", "decoder": "lm", "beam_size": 50, "lexicon": "words.txt",
                "lm_weight": 0.0, "word_score": 0.0, "nbest": 20, "spell_lm": "spell.arpa", "spell_weight": 0.7}
    (d / "decode.yaml").write_text(yaml.safe_dump(settings))
    (d / "scores.txt").write_text("%WER 4.00 [ 4 / 100, 0 ins, 0 del, 4 sub ]\n")
    set_decoder(exp, [d], on="dev")
    recorded = yaml.safe_load((exp / "decoding.yaml").read_text())
    assert (recorded["spell_lm"], recorded["spell_weight"]) == ("decoding/spell_lm.arpa", 0.7)
    assert "--spell-lm spell.arpa --spell-weight 0.7" in how(d, "dev")
    spell_arpa.unlink()  # the model dir has its own copy
    config = DecoderConfig().resolved(load_model_dir(exp))
    assert SpellingLM(config.spell_lm).letters == {"A", "B"} and config.spell_weight == 0.7
    assert DecoderConfig(spell_weight=0).resolved(load_model_dir(exp)).spell_weight == 0.0
    packed = export_model(exp, tmp_path / "m.asr")
    assert "decoding/spell_lm.arpa" in zipfile.ZipFile(packed).namelist()
    config = DecoderConfig().resolved(load_model(packed))
    assert SpellingLM(config.spell_lm).letters == {"A", "B"} and (config.nbest, config.spell_weight) == (20, 0.7)
    result = CliRunner().invoke(app, ["transcribe", str(packed), str(tone_wav)])
    assert result.exit_code == 0, result.output
    assert set(result.output.split("\t")[1].split()) <= {"YES", "NO"}
    result = CliRunner().invoke(app, ["transcribe", str(exp), str(tone_wav), "--spell-lm", "missing.arpa"])
    assert result.exit_code != 0 and "missing.arpa: no such language model file" in result.output


def test_the_spelling_text_from_the_installed_word_lists(tmp_path):
    (tmp_path / "lm_train.txt").write_text("MY NAME IS Q X Z\n")
    (tmp_path / "more.txt").write_text("Zyzzogeton\n")
    out = tmp_path / "spell.txt"
    done = subprocess.run([sys.executable, "-m", "data_prep.spelling", "--text", str(tmp_path / "lm_train.txt"),
                           "--words", str(tmp_path / "more.txt"), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert len(lines) > 300_000 and len(set(lines)) > 300_000
    assert {"L I N D A", "S A T T E R F I E L D", "H A M P S H I R E", "Q X Z"} <= set(lines)
    assert "letter runs of the text 1" in done.stderr
    done = subprocess.run([sys.executable, "-m", "data_prep.spelling", "--words", str(tmp_path / "none.txt"),
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 1 and "none.txt: no such word list" in done.stderr
