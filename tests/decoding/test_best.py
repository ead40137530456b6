"""`asr model set-decoder`: the decoder with the lowest dev WER goes into the model dir, files copied in; the model
dir then decodes with it by default (transcribe and decode alike), and `asr export` packs it."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.decoding.best import set_decoder
from asr.decoding.config import DecoderConfig
from asr.errors import ConfigError
from asr.export.package import export_model, load_model
from asr.model.store import load_model_dir
from helpers.transcribe import make_model_dir


def decode_dir(exp, set_name, name, wer_errors, **settings):
    d = exp / f"decode_{set_name}_{name}"
    d.mkdir(parents=True)
    (d / "decode.yaml").write_text(yaml.safe_dump({"model": "m", "data": f"data/{set_name}", "decoder": name,
                                                   "beam_size": 10, "lm_weight": 1.0, "word_score": 0.0,
                                                   **settings}))
    (d / "scores.txt").write_text(f"%WER {wer_errors:.2f} [ {wer_errors} / 100, 0 ins, 0 del, {wer_errors} sub ]\n")
    return d


@pytest.fixture
def exp(tmp_path):
    exp = make_model_dir(tmp_path / "exp")
    (tmp_path / "words.txt").write_text("YES\nNO\n")
    return exp


def test_the_lowest_dev_wer_wins_and_its_files_move_in(exp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # decode.yaml paths are the recipe's, relative to where it runs
    dirs = [decode_dir(exp, "dev", "greedy", 9), decode_dir(exp, "dev", "beam", 9),
            decode_dir(exp, "dev", "lexicon", 4, decoder="lm", lexicon="words.txt", lm_weight=0.0, beam_size=20,
                       nbest=7),
            decode_dir(exp, "test", "lexicon", 1, decoder="lm", lexicon="words.txt")]
    chosen = set_decoder(exp, dirs, on="dev")
    assert (chosen["name"], chosen["decoder"], chosen["chosen_on"]) == ("lexicon", "lm", "dev")
    recorded = yaml.safe_load((exp / "decoding.yaml").read_text())
    assert recorded["lexicon"] == "decoding/lexicon.txt" and recorded["beam_size"] == 20
    assert recorded["decode_dirs"] == [d.name for d in dirs]
    shutil.copytree(exp, tmp_path / "moved")
    (tmp_path / "words.txt").unlink()  # the model dir no longer needs the recipe's files
    config = DecoderConfig().resolved(load_model_dir(tmp_path / "moved"))
    assert (config.decoder, config.beam_size, config.lm_weight, config.nbest) == ("lm", 20, 0.0, 7)
    assert Path(config.lexicon).read_text() == "YES\nNO\n"
    assert DecoderConfig("beam").resolved(load_model_dir(tmp_path / "moved")).beam_size == 10  # not lm's beam
    packed = export_model(tmp_path / "moved", tmp_path / "m.asr")
    assert "decoding/lexicon.txt" in zipfile.ZipFile(packed).namelist()
    config = DecoderConfig().resolved(load_model(packed))
    assert (config.decoder, config.beam_size, Path(config.lexicon).read_text()) == ("lm", 20, "YES\nNO\n")
    assert config.nbest == 7


def test_one_decoder_needs_no_choice_several_need_the_dev_set(exp, tmp_path):
    only = [decode_dir(exp, "test", "greedy", 3)]
    assert set_decoder(exp, only, on="dev") == {"decoder": "greedy", "beam_size": 10, "name": "greedy",
                                                "decode_dirs": ["decode_test_greedy"]}
    two = only + [decode_dir(exp, "test", "beam", 2)]
    with pytest.raises(ConfigError, match="needs their decode dirs of --on dev"):
        set_decoder(exp, two, on="dev")


def test_cli_set_decoder_then_info(exp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dirs = [decode_dir(exp, "dev", "greedy", 5), decode_dir(exp, "dev", "beam", 3, beam_size=7)]
    runner = CliRunner()
    result = runner.invoke(app, ["model", "set-decoder", str(exp), *map(str, dirs), "--on", "dev"])
    assert result.exit_code == 0, result.output
    assert "beam (beam), chosen on dev: %WER 3.00" in result.stdout
    card = runner.invoke(app, ["info", str(exp)])
    assert card.exit_code == 0, card.output
    chosen = "decoder: beam (CTC prefix search, beam 7): the recipe's `beam`, the lowest WER on dev"
    greedy = "%WER 5.00 [ 5 / 100, 0 ins, 0 del, 5 sub ] decode_dev_greedy"
    for part in ("units: char, 8 tokens", "8000 Hz", "M parameters", chosen, greedy, "%WER 3.00 [ 3 / 100"):
        assert part in card.stdout, card.stdout
    written = runner.invoke(app, ["info", str(exp), "--out", str(exp / "README.md")])
    assert written.exit_code == 0 and (exp / "README.md").read_text() == card.stdout


def test_info_with_the_run_log_names_the_last_run(exp, tmp_path):
    """`asr info --run-log`: the card names the command and git hash of the log's last run (start_run's header)."""
    log = tmp_path / "run.log"
    runs = [("2026-01-01T10:00:00Z", "./run.sh --stage 0", "1111111"),
            ("2026-01-02T10:00:00Z", "./run.sh --epochs 3", "abc1234 (modified)")]
    log.write_text("".join(f"# {when} {command}\n# git {git}\n# python 3.11.9, torch 2.3.0\n#   seed=1\n"
                           f"# stage 0: data preparation (10:00:01, t=100)\nasr feats data/train\n"
                           for when, command, git in runs))
    runner = CliRunner()
    card = runner.invoke(app, ["info", str(exp), "--run-log", str(log)])
    assert card.exit_code == 0, card.output
    assert "- recipe run: `./run.sh --epochs 3` (started 2026-01-02T10:00:00Z, git abc1234 (modified))\n" in card.stdout
    assert "1111111" not in card.stdout and "recipe run" not in runner.invoke(app, ["info", str(exp)]).stdout
    log.write_text("asr feats data/train\n")
    bad = runner.invoke(app, ["info", str(exp), "--run-log", str(log)])
    assert bad.exit_code != 0 and "run.log: no run header" in bad.output
