"""Posterior averaging (asr.model.ensemble): an ensemble dir decodes as the mean of its members' posteriors,
travels as any model (transcribe, `.asr`, int8, card), and refuses members that cannot be averaged."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.errors import ConfigError
from asr.export.card import model_card
from asr.export.package import export_model, load_package
from asr.model.ensemble import EnsembleCTC, build_ensemble
from asr.model.quantize import quantize_model
from asr.model.store import load_model_dir
from asr.text.tokenizer import CharTokenizer
from asr.transcribe import Transcriber
from helpers.cli_errors import one_line_error
from helpers.transcribe import make_model_dir


@pytest.fixture
def members(tmp_path):
    return [make_model_dir(tmp_path / "a", seed=1), make_model_dir(tmp_path / "b", seed=2, hidden_size=24)]


def feats(n=2, t=37):
    torch.manual_seed(0)
    return torch.randn(n, t, 40) * 3, torch.tensor([t, t - 9])


def test_the_ensemble_decodes_the_mean_of_its_members_posteriors(members, tmp_path):
    result = CliRunner().invoke(app, ["ensemble", *map(str, members), "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    ens = load_model_dir(tmp_path / "e").model
    assert isinstance(ens, EnsembleCTC) and len(ens.members) == 2
    x, lengths = feats()
    with torch.inference_mode():
        lp, out_lengths = ens(x, lengths)
        singles = [load_model_dir(m).model(x, lengths) for m in members]
    mean = (singles[0][0].exp() + singles[1][0].exp()) / 2
    assert torch.allclose(lp.exp(), mean, atol=1e-6)
    assert torch.equal(out_lengths, singles[0][1])
    assert not torch.allclose(singles[0][0], singles[1][0], atol=1e-3)  # the members differ: a real average
    config = yaml.safe_load((tmp_path / "e" / "config.yaml").read_text())
    assert [m["source"] for m in config["ensemble"]["members"]] == [str(m) for m in members]
    assert [m["model"]["hidden_size"] for m in config["ensemble"]["members"]] == [16, 24]
    assert "posterior average of 2 models" in model_card(tmp_path / "e")
    assert math.isclose(ens.num_params(), sum(load_model_dir(m).model.num_params() for m in members))


def test_an_ensemble_travels_as_any_model(members, tmp_path, tone_wav):
    build_ensemble(members, tmp_path / "e")
    x, lengths = feats()
    with torch.inference_mode():
        lp = load_model_dir(tmp_path / "e").model(x, lengths)[0]
        packed = load_package(export_model(tmp_path / "e", tmp_path / "e.asr"))
        assert torch.equal(packed.model(x, lengths)[0], lp)
        int8 = quantize_model(packed.model)
        assert torch.allclose(int8(x, lengths)[0].exp(), lp.exp(), atol=0.05)
    text = Transcriber.from_pretrained(tmp_path / "e", "cpu").transcribe(str(tone_wav)).text
    assert set(text) <= set("ENOSY ")


def test_members_that_cannot_be_averaged_are_refused(members, tmp_path):
    other_rate = make_model_dir(tmp_path / "sub", subsample=2)
    with pytest.raises(ConfigError, match="model.subsample is 2"):
        build_ensemble([members[0], other_rate], tmp_path / "e")
    other_units = make_model_dir(tmp_path / "units")
    CharTokenizer(["<blank>", "<unk>", "<space>", "A", "B", "C", "D", "E"]).save(other_units / "tokens.txt")
    with pytest.raises(ConfigError, match="units .* differ"):
        build_ensemble([members[0], other_units], tmp_path / "e")
    with pytest.raises(ConfigError, match="at least two"):
        build_ensemble(members[:1], tmp_path / "e")
    with pytest.raises(ConfigError, match="overwrite"):
        build_ensemble(members, members[1])
    build_ensemble(members, tmp_path / "e")
    with pytest.raises(ConfigError, match="already an ensemble"):
        build_ensemble([tmp_path / "e", members[0]], tmp_path / "e2")
    result = CliRunner().invoke(app, ["ensemble", str(members[0]), str(other_rate), "--out", str(tmp_path / "e3")])
    assert "model.subsample" in one_line_error(result)


def test_what_needs_one_network_says_so(members, tmp_path, tone_wav):
    build_ensemble(members, tmp_path / "e")
    result = CliRunner().invoke(app, ["export", str(tmp_path / "e"), str(tmp_path / "e.onnx")])
    assert "an ensemble of 2 models" in one_line_error(result)
    assert not (tmp_path / "e.onnx").exists()
    result = CliRunner().invoke(app, ["inspect", "gates", str(tmp_path / "e"), str(tone_wav),
                                      "--out", str(tmp_path / "g.png")])
    assert "an ensemble of 2 models" in one_line_error(result)
    causal = [make_model_dir(tmp_path / f"s{i}", seed=i, bidirectional=False) for i in (1, 2)]
    with pytest.raises(ConfigError, match="streaming"):
        build_ensemble(causal, tmp_path / "e2")
