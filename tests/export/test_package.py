"""One-file models: `asr export`, loading, and clear errors for files that are not models."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.errors import ConfigError
from asr.export.package import FORMAT_VERSION, MANIFEST, export_model, load_model, read_manifest
from asr.model.store import load_model_dir
from helpers.transcribe import make_model_dir


@pytest.fixture
def model_dir(tmp_path):
    return make_model_dir(tmp_path / "exp")


def rewrite(src, dst, replace: dict):
    """Copy zip `src` to `dst`, replacing (value bytes) or dropping (value None) members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    zout.writestr(item.filename, replace[item.filename])
            else:
                zout.writestr(item, zin.read(item.filename))


def test_export_then_load_gives_the_same_model(model_dir, tmp_path):
    out = export_model(model_dir, tmp_path / "m.asr")
    with zipfile.ZipFile(out) as z:
        assert {"asr-model.yaml", "config.yaml", "tokens.txt", "model.pt"} <= set(z.namelist())
    manifest = read_manifest(out)
    assert manifest["format"] == "lstm-asr-model" and manifest["format_version"] == FORMAT_VERSION
    a, b = load_model_dir(model_dir), load_model(out)
    assert b.tokenizer.tokens == a.tokenizer.tokens and b.features == a.features
    assert b.config["model"] == a.config["model"]
    feats = torch.randn(1, 50, a.model.config.input_dim)
    with torch.inference_mode():
        assert torch.equal(a.model(feats, torch.tensor([50]))[0], b.model(feats, torch.tensor([50]))[0])
    for name, t in a.model.state_dict().items():  # weights and global CMVN buffers
        assert torch.equal(t, b.model.state_dict()[name]), name


def test_lexicon_lm_and_weights_are_packed_and_found(model_dir, tmp_path):
    lexicon, lm, params = tmp_path / "lexicon.txt", tmp_path / "lm.arpa", tmp_path / "lm_params.yaml"
    lexicon.write_text("YES Y E S\nNO N O\n")
    lm.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.3 YES\n-0.3 NO\n\n\\end\\\n")
    params.write_text("lm_weight: 0.7\nword_score: -1.5\nwer: 3.1\n")
    out = export_model(model_dir, tmp_path / "m.asr", lexicon=lexicon, lm=lm, lm_params=params)
    assert {"decoding/lexicon.txt", "decoding/lm.arpa"} <= set(zipfile.ZipFile(out).namelist())
    loaded = load_model(out)
    assert loaded.tokenizer.kind == "char"  # the decoding lexicon is not mistaken for a phone lexicon
    packed = loaded.config["decoding"]
    assert open(packed["lexicon"]).read() == lexicon.read_text()
    assert open(packed["lm"]).read() == lm.read_text()
    assert (packed["lm_weight"], packed["word_score"]) == (0.7, -1.5)
    with pytest.raises(ConfigError, match="no such lm file"):
        export_model(model_dir, tmp_path / "n.asr", lm=tmp_path / "missing.arpa")


def test_the_units_files_travel_with_the_model(model_dir, tmp_path):
    """Word units need words.txt beside tokens.txt: the model file must carry it."""
    from asr.text.tokenizer import WordTokenizer

    WordTokenizer(["<blank>", "<unk>", "<space>", "NO", "YES", "A", "B", "C"]).save_dir(model_dir)
    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    (model_dir / "config.yaml").write_text(yaml.safe_dump({**config, "units": "word"}))
    out = export_model(model_dir, tmp_path / "w.asr")
    assert "words.txt" in zipfile.ZipFile(out).namelist()
    assert load_model(out).tokenizer.kind == "word"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (lambda p: p.write_text("hello\n"), "not a zip archive"),
    (lambda p: torch.save({"w": torch.zeros(2)}, p), "a PyTorch weights file, not a model"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("readme.txt", "hi"), "a zip archive without asr-model.yaml"),
], ids=["empty", "text", "weights", "zip"])
def test_a_file_that_is_not_a_model_says_what_it_is(tmp_path, make, message):
    path = tmp_path / "thing.asr"
    make(path)
    with pytest.raises(ConfigError, match=message) as e:
        load_model(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_format_version_and_damage_are_checked(model_dir, tmp_path):
    good = export_model(model_dir, tmp_path / "m.asr")
    manifest = yaml.safe_load(zipfile.ZipFile(good).read(MANIFEST))
    newer = tmp_path / "newer.asr"
    rewrite(good, newer, {MANIFEST: yaml.safe_dump({**manifest, "format_version": FORMAT_VERSION + 1})})
    with pytest.raises(ConfigError, match=f"format version {FORMAT_VERSION + 1} is newer .* upgrade"):
        load_model(newer)
    other = tmp_path / "other.asr"
    rewrite(good, other, {MANIFEST: yaml.safe_dump({**manifest, "format": "something-else"})})
    with pytest.raises(ConfigError, match="does not say format: lstm-asr-model"):
        load_model(other)
    incomplete = tmp_path / "incomplete.asr"
    rewrite(good, incomplete, {"model.pt": None})
    with pytest.raises(ConfigError, match="damaged model file: no model.pt inside"):
        load_model(incomplete)
    bad_config = tmp_path / "bad_config.asr"
    rewrite(good, bad_config, {"config.yaml": yaml.safe_dump({"features": {"kind": "fbank"}})})
    with pytest.raises(ConfigError, match=r"bad_config.asr/config.yaml: missing section"):
        load_model(bad_config)
    truncated = tmp_path / "truncated.asr"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ConfigError, match="truncated.asr"):
        load_model(truncated)


def test_missing_model_and_bad_dir(tmp_path):
    with pytest.raises(ConfigError, match="no such model"):
        load_model(tmp_path / "nope.asr")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ConfigError, match="not a model directory"):
        load_model(tmp_path / "empty_dir")


def test_cli_export_and_transcribe_with_the_file(model_dir, tmp_path):
    import soundfile as sf

    runner = CliRunner()
    out = tmp_path / "m.asr"
    result = runner.invoke(app, ["export", str(model_dir), str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and out.exists()
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.1 * np.random.default_rng(0).standard_normal(8000), 8000)
    by_dir = runner.invoke(app, ["transcribe", str(model_dir), str(wav), "--device", "cpu"])
    by_file = runner.invoke(app, ["transcribe", str(out), str(wav), "--device", "cpu"])
    assert by_dir.exit_code == by_file.exit_code == 0
    assert by_dir.stdout == by_file.stdout and by_file.stdout.startswith(f"{wav}\t")
    bad = runner.invoke(app, ["transcribe", str(wav), str(wav)])  # audio given as the model
    assert bad.exit_code == 1 and "not a zip archive" in bad.stderr and bad.stderr.count("\n") == 1
