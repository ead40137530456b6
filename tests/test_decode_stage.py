"""The decode stage (`asr decode`): greedy, beam and lexicon + LM decoding of a data dir, LM weights tuned on it
and reused from lm_params.yaml; a tiny model with random weights, so only the plumbing is checked."""

import pytest
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.text.tokenizer import CharTokenizer
from decode_helpers import decode_setup

TEXTS = {"s1-a": "YES NO", "s1-b": "NO", "s2-c": "YES YES"}


@pytest.fixture
def setup(tmp_path):
    data, model_dir = decode_setup(tmp_path, TEXTS, CharTokenizer.build(TEXTS.values()), [40] * len(TEXTS), num_layers=1)
    return tmp_path, model_dir, data


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def hyps(path):
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in path.read_text().splitlines())


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_greedy_and_beam(setup, decoder):
    tmp, model, data = setup
    run("decode", model, data, tmp / decoder, "--decoder", decoder, "--no-progress")
    assert set(hyps(tmp / decoder / "text")) == set(TEXTS)
    assert yaml.safe_load((tmp / decoder / "decode.yaml").read_text())["decoder"] == decoder


def test_lm_tuned_then_reused(setup):
    pytest.importorskip("flashlight.lib.text")
    tmp, model, data = setup
    run("decode", model, data, tmp / "dev_lm", "--decoder", "lm", "--lm", tmp / "lm.arpa", "--lexicon",
        tmp / "lexicon.txt", "--tune-lm-weights", "0,1", "--tune-word-scores", "0,2", "--no-progress")
    table = (tmp / "dev_lm" / "lm_tuning.tsv").read_text().splitlines()
    assert table[0].startswith("lm_weight\tword_score\twer") and len(table) == 5
    params = yaml.safe_load((tmp / "dev_lm" / "lm_params.yaml").read_text())
    best = min(table[1:], key=lambda r: (int(r.split("\t")[3]), float(r.split("\t")[0]), abs(float(r.split("\t")[1]))))
    assert (params["lm_weight"], params["word_score"]) == (float(best.split("\t")[0]), float(best.split("\t")[1]))
    words = {w for t in hyps(tmp / "dev_lm" / "text").values() for w in t.split()}
    assert words <= {"YES", "NO"}  # only vocabulary words come out
    run("decode", model, data, tmp / "test_lm", "--decoder", "lm", "--lm", tmp / "lm.arpa", "--lexicon",
        tmp / "lexicon.txt", "--lm-params", tmp / "dev_lm" / "lm_params.yaml", "--no-progress")
    used = yaml.safe_load((tmp / "test_lm" / "decode.yaml").read_text())
    assert (used["lm_weight"], used["word_score"]) == (params["lm_weight"], params["word_score"])
    assert hyps(tmp / "test_lm" / "text") == hyps(tmp / "dev_lm" / "text")


def test_bad_options(setup):
    tmp, model, data = setup
    result = CliRunner().invoke(app, ["decode", str(model), str(data), str(tmp / "x"), "--decoder", "lm"])
    assert result.exit_code == 1 and "needs --lm" in result.output
    result = CliRunner().invoke(app, ["decode", str(model), str(data), str(tmp / "x"), "--decoder", "lm", "--lm",
                                      str(tmp / "lm.arpa"), "--lm-params", str(tmp / "missing.yaml")])
    assert result.exit_code == 1 and "missing.yaml: no such file" in result.output
