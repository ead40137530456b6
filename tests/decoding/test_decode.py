"""The decode stage (`asr decode`): greedy, beam and lexicon + LM decoding of a data dir, LM weights tuned on it
and reused from lm_params.yaml; a tiny model with random weights, so only the plumbing is checked."""

import shutil

import pytest
import yaml
from typer.testing import CliRunner

import asr.decoding.decode as decode_module
from asr.cli import app
from asr.data.kaldi_files import read_table, utt2spk_to_spk2utt, write_table
from asr.text.tokenizer import CharTokenizer
from helpers.decode import decode_setup

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


# ---- several data dirs, named decoders (`--decoders`) ------------------------------------------------------

GRID = ["--tune-lm-weights", "0,1", "--tune-word-scores", "0,2"]


@pytest.fixture
def sets(setup):
    """dev (every utterance) and test (all but the last) as data dirs named by their sets."""
    tmp, model, data = setup
    shutil.copytree(data, tmp / "sets" / "dev")
    shutil.copytree(data, tmp / "sets" / "test")
    for name in ("feats.scp", "text", "utt2spk"):
        lines = (tmp / "sets" / "test" / name).read_text().splitlines(keepends=True)
        (tmp / "sets" / "test" / name).write_text("".join(lines[:-1]))
    test_utt2spk = read_table(tmp / "sets" / "test" / "utt2spk")
    write_table(tmp / "sets" / "test" / "spk2utt", utt2spk_to_spk2utt(test_utt2spk))
    (tmp / "decode.yaml").write_text(yaml.safe_dump({
        "beam": {"beam_size": 4},
        "lm": {"beam_size": 20, "lm": str(tmp / "lm.arpa"), "lexicon": str(tmp / "lexicon.txt"),
               "tune_lm_weights": [0, 1], "tune_word_scores": [0, 2]},
        "lexicon": {"decoder": "lm", "lexicon": str(tmp / "lexicon.txt"), "lm_weight": 0, "beam_size": 8}}))
    return tmp, model, tmp / "sets" / "dev", tmp / "sets" / "test"


def files(exp):
    return {str(p.relative_to(exp)): p.read_bytes() for p in sorted(exp.rglob("*")) if p.is_file()}


def test_decoders_over_sets_write_what_the_one_dir_commands_write(sets, monkeypatch):
    pytest.importorskip("flashlight.lib.text")
    tmp, model, dev, test = sets
    (tmp / "a").mkdir()
    monkeypatch.chdir(tmp / "a")
    passes = []
    forward = decode_module.stream_log_probs
    monkeypatch.setattr(decode_module, "stream_log_probs", lambda *a, **kw: passes.append(a[1]) or forward(*a, **kw))
    out = run("decode", model, test, dev, "--exp-dir", "exp", "--decoders", "greedy,beam,lm,lexicon",
              "--decode-config", tmp / "decode.yaml", "--tune-on", "dev", "--no-progress")
    assert passes == [dev, test]  # one forward pass per set, shared by its four decoders
    monkeypatch.undo()
    order = [line.split(":")[0] for line in out.splitlines()]
    assert order == [f"exp/decode_{x}_{d}/text" for x in ("dev", "test") for d in ("greedy", "beam", "lm", "lexicon")]
    (tmp / "b").mkdir()
    monkeypatch.chdir(tmp / "b")
    lm = ["--decoder", "lm", "--beam-size", "20", "--lm", tmp / "lm.arpa", "--lexicon", tmp / "lexicon.txt"]
    lexicon = ["--decoder", "lm", "--lexicon", tmp / "lexicon.txt", "--lm-weight", "0", "--beam-size", "8"]
    for x, data in (("dev", dev), ("test", test)):
        run("decode", model, data, f"exp/decode_{x}_greedy", "--no-progress")
        run("decode", model, data, f"exp/decode_{x}_beam", "--decoder", "beam", "--beam-size", "4", "--no-progress")
        tuning = GRID if x == "dev" else ["--lm-params", "exp/decode_dev_lm/lm_params.yaml"]
        run("decode", model, data, f"exp/decode_{x}_lm", *lm, *tuning, "--no-progress")
        run("decode", model, data, f"exp/decode_{x}_lexicon", *lexicon, "--no-progress")
    a, b = files(tmp / "a" / "exp"), files(tmp / "b" / "exp")
    assert a == b and "decode_dev_lm/lm_params.yaml" in a and "decode_test_lm/lm_params.yaml" not in a
    used = yaml.safe_load(a["decode_test_lm/decode.yaml"])
    tuned = yaml.safe_load(a["decode_dev_lm/lm_params.yaml"])
    assert used["lm_params"] == "exp/decode_dev_lm/lm_params.yaml" and used["tune_lm_weights"] == []
    assert (used["lm_weight"], used["word_score"]) == (tuned["lm_weight"], tuned["word_score"])


def test_set_overrides_and_a_grid_tuned_on_each_set(sets, monkeypatch):
    pytest.importorskip("flashlight.lib.text")
    tmp, model, dev, test = sets
    monkeypatch.chdir(tmp)
    run("decode", model, dev, test, "--exp-dir", "exp", "--decoders", "lm", "--set", f"lm.lm={tmp / 'lm.arpa'}",
        "--set", f"lm.lexicon={tmp / 'lexicon.txt'}", "--set", "lm.tune_word_scores=[0, 2]", "--set",
        "lm.beam_size=12", "--no-progress")
    for x in ("dev", "test"):  # no --tune-on: each set searches its own grid
        settings = yaml.safe_load((tmp / "exp" / f"decode_{x}_lm" / "decode.yaml").read_text())
        assert settings["beam_size"] == 12 and settings["tune_word_scores"] == [0.0, 2.0]
        assert (tmp / "exp" / f"decode_{x}_lm" / "lm_params.yaml").is_file()


def test_decoders_in_jobs(sets, monkeypatch):
    tmp, model, dev, test = sets
    monkeypatch.chdir(tmp)
    run("decode", model, dev, test, "--exp-dir", "one", "--decoders", "greedy", "--no-progress")
    run("decode", model, dev, test, "--exp-dir", "two", "--decoders", "greedy", "--nj", "2", "--no-progress")
    for x in ("dev", "test"):
        assert (tmp / "two" / f"decode_{x}_greedy" / "text").read_bytes() == \
            (tmp / "one" / f"decode_{x}_greedy" / "text").read_bytes()
        assert yaml.safe_load((tmp / "two" / f"decode_{x}_greedy" / "decode.yaml").read_text())["nj"] == 2


@pytest.mark.parametrize("args, message", [
    (["--decoders", "greedy,viterbi"], "unknown decoder name 'viterbi'"),
    (["--decoders", "greedy,greedy"], "expected distinct decoder names"),
    (["--decoders", "lm"], "decoder 'lm': --decoder lm needs --lm"),
    (["--decoders", "lm", "--set", "lm.lm_wieght=1"], "--set lm.lm_wieght=1: lm.lm_wieght: unknown lm option; did you mean lm_weight?"),
    (["--decoders", "beam", "--set", "beam.beam_size=wide"], "--set beam.beam_size=wide: beam.beam_size: expected an integer, got 'wide'"),
    (["--decoders", "beam", "--set", "beam=4"], "--set beam=4: expected NAME.key=value"),
    (["--decoders", "greedy", "--tune-on", "train"], "--tune-on train: not among the data dirs (dev, test)"),
    (["--decoders", "greedy", "--beam-size", "4"], "--beam-size: with --decoders, set decoder options in"),
    (["--tune-on", "dev"], "--tune-on: only with --decoders"),
])
def test_decoders_errors(sets, args, message):
    tmp, model, dev, test = sets
    exp = [] if "--decoders" not in args else ["--exp-dir", str(tmp / "exp")]
    result = CliRunner().invoke(app, ["decode", str(model), str(dev), str(test), *exp, *args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp / "exp").exists()


def test_decode_config_errors_name_the_file_and_key(sets):
    tmp, model, dev, test = sets
    cases = {"lm: {beam: 3}\n": "lm.beam: unknown lm option", "greedy: {decoder: beam}\n": "greedy.decoder: expected greedy",
             "fast: {beam_size: 3}\n": "fast: 'fast' is not a built-in decoder name",
             "- greedy\n": "expected a mapping", "lm: {tune_lm_weights: [a]}\n": "lm.tune_lm_weights: expected a number, got 'a'"}
    for text, message in cases.items():
        (tmp / "bad.yaml").write_text(text)
        result = CliRunner().invoke(app, ["decode", str(model), str(dev), "--exp-dir", str(tmp / "exp"),
                                          "--decoders", "lm" if "lm" in text else text.split(":")[0],
                                          "--decode-config", str(tmp / "bad.yaml")])
        assert result.exit_code == 1 and f"{tmp / 'bad.yaml'}:" in result.output and message in result.output, \
            result.output


def test_the_models_recorded_decoder_is_the_default(setup, monkeypatch):
    """After `asr model set-decoder`, `asr decode` with no decoder options decodes as the chosen decode dir did."""
    pytest.importorskip("flashlight.lib.text")
    tmp, model, data = setup
    monkeypatch.chdir(tmp)
    run("decode", model, data, tmp / "decode_data_lm", "--decoder", "lm", "--lm", "lm.arpa", "--lexicon",
        "lexicon.txt", "--lm-weight", "0.5", "--beam-size", "7", "--no-progress")
    (tmp / "decode_data_lm" / "scores.txt").write_text("%WER 0.00 [ 0 / 5, 0 ins, 0 del, 0 sub ]\n")
    run("model", "set-decoder", model, tmp / "decode_data_lm", "--on", "data")
    run("decode", model, data, tmp / "default", "--no-progress")
    settings = yaml.safe_load((tmp / "default" / "decode.yaml").read_text())
    assert (settings["decoder"], settings["beam_size"], settings["lm_weight"]) == ("lm", 7, 0.5)
    assert settings["lexicon"] == str((model / "decoding" / "lexicon.txt").resolve())
    assert hyps(tmp / "default" / "text") == hyps(tmp / "decode_data_lm" / "text")
