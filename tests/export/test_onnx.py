"""ONNX export (asr.export.onnx): every recurrent kind gives the PyTorch model's log-probs in onnxruntime, on
random batches of mixed lengths, and the same greedy paths; the file carries what a runtime needs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from asr.model.model import CTCModel, ModelConfig

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from asr.export.onnx import export_onnx, to_onnx_bytes  # noqa: E402

TOLERANCE = 1e-4  # largest |log-prob difference| allowed; the measured ones are ~1e-6 (printed with -s)

# (cell, recurrent_proj_size, proj_size, bidirectional, cmn, stack_frames, subsample): every cell kind,
# with and without LSTMP, one- and two-directional, the offline CMN kinds, with and without the ESPnet projection
KINDS = [
    ("lstm", 0, 0, True, "global", 3, 3),
    ("lstm", 6, 0, True, "global", 3, 3),
    ("lstm-ref", 0, 9, False, "utterance", 2, 2),
    ("peephole", 0, 0, True, "global", 3, 3),
    ("peephole", 6, 9, True, "utterance", 3, 3),
    ("cifg", 0, 0, True, "global", 1, 1),
    ("cifg", 6, 0, False, "global", 3, 3),
    ("gru", 0, 9, True, "global", 3, 3),
    ("gru-ref", 0, 0, True, "utterance", 3, 2),
    ("lstm", 0, 0, True, "utterance_mv", 3, 3),
]


def random_model(cell, rproj, proj, bi, cmn, stack, sub, seed=0) -> CTCModel:
    """A tiny model with weights large enough that its outputs are far from uniform (so errors show)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=5, vocab_size=7, cell=cell, num_layers=2, hidden_size=8, recurrent_proj_size=rproj,
                      proj_size=proj, bidirectional=bi, dropout=0.0, cmn=cmn, stack_frames=stack, subsample=sub)
    model = CTCModel(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    stats = np.zeros((2, 6))
    stats[0, :5], stats[1, :5], stats[0, 5] = np.arange(5.0), np.arange(5.0) ** 2 + 3, 1
    model.set_cmvn(stats)
    return model.eval()


def max_difference(model: CTCModel, session, batch: int, total: int, seed: int) -> tuple[float, bool]:
    """Largest |log-prob difference| over valid frames, and whether every greedy path is the same."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, total, 5, generator=g) * 2
    lengths = torch.randint(1, total + 1, (batch,), generator=g)
    lengths[0] = total
    with torch.no_grad():
        ref, ref_lengths = model(feats, lengths)
    out, out_lengths = session.run(None, {"feats": feats.numpy(), "lengths": lengths.numpy()})
    assert out_lengths.tolist() == ref_lengths.tolist()
    ref = ref.numpy()
    diff, same = 0.0, True
    for i, n in enumerate(out_lengths):
        diff = max(diff, float(np.abs(out[i, :n] - ref[i, :n]).max()))
        same &= bool((out[i, :n].argmax(-1) == ref[i, :n].argmax(-1)).all())
    return diff, same


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k[0]}-rp{k[1]}-p{k[2]}-{'bi' if k[3] else 'uni'}-{k[4]}")
def test_onnx_log_probs_equal_pytorch(kind):
    model = random_model(*kind)
    session = ort.InferenceSession(to_onnx_bytes(model), providers=["CPUExecutionProvider"])
    diffs = []
    for batch, total, seed in ((1, 1, 0), (1, 20, 1), (5, 23, 2), (16, 9, 3)):  # shapes unlike the traced one
        diff, same = max_difference(model, session, batch, total, seed)
        assert same, f"greedy paths differ at batch {batch} x {total}"
        diffs.append(diff)
    print(f"{kind}: max |log-prob difference| {max(diffs):.1e}")
    assert max(diffs) < TOLERANCE


def test_a_wrong_weight_is_seen():
    """The comparison can fail: an exported peephole weight changed by 0.5 moves the log-probs."""
    model = random_model("peephole", 0, 0, True, "global", 3, 3)
    with torch.no_grad():
        model.encoder.rnns[0].weight_cf_l0_reverse.add_(0.5)
        session = ort.InferenceSession(to_onnx_bytes(model), providers=["CPUExecutionProvider"])
        model.encoder.rnns[0].weight_cf_l0_reverse.sub_(0.5)
    assert max_difference(model, session, 5, 23, 2)[0] > 1e-2


def test_export_file_carries_tokens_and_features(tmp_path):
    from helpers.transcribe import make_model_dir

    model_dir = make_model_dir(tmp_path / "exp")
    out = export_onnx(model_dir, tmp_path / "m.onnx")
    meta = {p.key: json.loads(p.value) for p in onnx.load(out).metadata_props}
    assert meta["asr.tokens"][:3] == ["<blank>", "<unk>", "<space>"]
    assert meta["asr.features"]["sample_rate"] == 8000 and meta["asr.units"] == "char"
    assert meta["asr.model"]["subsample"] == 3


def test_int8_export_is_smaller_and_close(tmp_path):
    from helpers.transcribe import make_model_dir

    model_dir = make_model_dir(tmp_path / "exp")
    fp32 = export_onnx(model_dir, tmp_path / "m.onnx")
    int8 = export_onnx(model_dir, tmp_path / "q.onnx", quantize="int8")
    assert int8.stat().st_size < fp32.stat().st_size
    assert json.loads({p.key: p.value for p in onnx.load(int8).metadata_props}["asr.quantized"]) == "int8"
    feats = np.random.default_rng(0).standard_normal((2, 30, 40)).astype(np.float32)
    inputs = {"feats": feats, "lengths": np.array([30, 17])}
    a = ort.InferenceSession(str(fp32)).run(None, inputs)[0]
    b = ort.InferenceSession(str(int8)).run(None, inputs)[0]
    assert np.abs(a - b).max() < 0.5  # int8 weights: close, not equal


def test_cli_export_by_suffix_and_into_the_package(tmp_path):
    import zipfile

    from typer.testing import CliRunner

    from asr.cli import app
    from asr.export.package import load_model, read_manifest
    from helpers.transcribe import make_model_dir

    model_dir = make_model_dir(tmp_path / "exp")
    result = CliRunner().invoke(app, ["export", str(model_dir), str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert onnx.load(tmp_path / "m.onnx").graph.input[0].name == "feats"
    result = CliRunner().invoke(app, ["export", str(model_dir), str(tmp_path / "m.asr"), "--onnx",
                                      "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert "model.onnx" in zipfile.ZipFile(tmp_path / "m.asr").namelist()
    assert read_manifest(tmp_path / "m.asr")["quantize"] == "int8"
    loaded = load_model(tmp_path / "m.asr")
    assert type(loaded.model.encoder.rnns[0]).__module__.startswith("torch.ao.nn.quantized")
    result = CliRunner().invoke(app, ["export", str(model_dir), str(tmp_path / "b.asr"), "--quantize", "int4"])
    assert result.exit_code == 1 and "int4" in result.output


def test_every_kind_quantizes_to_int8():
    """int8 (onnxruntime.quantization) of every kind runs and stays close: LSTM -> DynamicQuantizeLSTM, matrix
    products -> MatMulInteger; GRU and the LSTMP Loop keep a float recurrence."""
    from asr.export.onnx import quantize_onnx

    feats = np.random.default_rng(1).standard_normal((3, 20, 5)).astype(np.float32)
    inputs = {"feats": feats, "lengths": np.array([20, 9, 4])}
    for kind in KINDS:
        fp32 = to_onnx_bytes(random_model(*kind))
        int8 = quantize_onnx(fp32, "int8")
        ops = {n.op_type for n in onnx.load_from_string(int8).graph.node}
        assert "MatMulInteger" in ops
        assert ("DynamicQuantizeLSTM" in ops) == (kind[0] not in ("gru", "gru-ref") and not kind[1])
        a = ort.InferenceSession(fp32).run(None, inputs)[0]
        b = ort.InferenceSession(int8).run(None, inputs)[0]
        assert np.abs(a[0] - b[0]).max() < 0.5, kind
