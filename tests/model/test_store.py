"""The model dir: its units are the kind config.yaml records, and a file that kind needs is required."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.errors import AsrError
from asr.export.package import export_model
from asr.model.store import load_model_dir
from asr.text.phone import write_lexicon
from asr.text.tokenizer import WordTokenizer
from helpers.cli_errors import one_line_error
from helpers.transcribe import make_model_dir

UNITS = ["<blank>", "<unk>", "<space>", "E", "N", "O", "S", "Y"]


def set_units(model_dir, units):
    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    (model_dir / "config.yaml").write_text(yaml.safe_dump({**config, "units": units}))


@pytest.fixture
def word_model(tmp_path):
    d = make_model_dir(tmp_path / "m")
    WordTokenizer(UNITS).save_dir(d)
    set_units(d, "word")
    return d


def test_the_units_come_from_the_config_not_the_files_present(word_model):
    assert load_model_dir(word_model).tokenizer.kind == "word"
    set_units(word_model, "char")  # words.txt stays, the config says char
    assert load_model_dir(word_model).tokenizer.kind == "char"


@pytest.mark.parametrize("units, needed", [("word", "words.txt"), ("phone", "lexicon.txt"), ("bpe", "bpe.model")])
def test_a_file_the_units_need_is_an_error_naming_it(word_model, tmp_path, units, needed):
    (word_model / "words.txt").unlink()
    set_units(word_model, units)
    with pytest.raises(AsrError, match=f"{needed}: missing; {units} units need it"):
        load_model_dir(word_model)
    with pytest.raises(AsrError, match=needed):
        export_model(word_model, tmp_path / "m.asr")
    assert not (tmp_path / "m.asr").exists()
    result = CliRunner().invoke(app, ["export", str(word_model), str(tmp_path / "m.asr")])
    assert needed in one_line_error(result)


def test_a_phone_model_with_its_lexicon_loads(word_model):
    write_lexicon({"NO": [["N", "O"]], "YES": [["Y", "E", "S"]]}, word_model / "lexicon.txt")
    set_units(word_model, "phone")
    assert load_model_dir(word_model).tokenizer.kind == "phone"


def test_an_unknown_unit_kind_and_a_vocab_mismatch_are_errors(word_model):
    set_units(word_model, "syllable")
    with pytest.raises(AsrError, match="unknown unit kind 'syllable'"):
        load_model_dir(word_model)
    set_units(word_model, "word")
    (word_model / "tokens.txt").write_text("".join(f"{t} {i}\n" for i, t in enumerate(UNITS[:-1])))
    with pytest.raises(AsrError, match="7 units, but the model"):
        load_model_dir(word_model)


def test_a_model_without_units_in_its_config_is_told_by_its_files(word_model):
    """Models trained before config.yaml recorded `units:` still load."""
    config = yaml.safe_load((word_model / "config.yaml").read_text())
    del config["units"]
    (word_model / "config.yaml").write_text(yaml.safe_dump(config))
    assert load_model_dir(word_model).tokenizer.kind == "word"
