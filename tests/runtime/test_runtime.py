"""The ONNX runtime (asr.runtime): the same words as the PyTorch Transcriber, `asr transcribe --backend onnx`,
and no PyTorch imported on the way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")

from asr.cli import app  # noqa: E402
from asr.export.onnx import export_onnx  # noqa: E402
from asr.runtime import OnnxTranscriber  # noqa: E402
from asr.transcribe import Transcriber  # noqa: E402
from helpers.transcribe import make_model_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def sharpened_model_dir(path: Path) -> Path:
    """make_model_dir's random model with weights scaled up, so that it emits many tokens (words to compare)."""
    import torch

    model_dir = make_model_dir(path, seed=3)
    state = torch.load(model_dir / "model.pt", weights_only=True)
    torch.save({k: v * 6 if "cmvn" not in k else v for k, v in state.items()}, model_dir / "model.pt")
    return model_dir


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("rt")
    model_dir = sharpened_model_dir(root / "exp")
    rng = np.random.default_rng(0)
    waves = []
    for i, seconds in enumerate((0.8, 2.3, 1.5)):
        t = np.arange(int(8000 * seconds)) / 8000
        x = 0.3 * np.sin(2 * np.pi * (200 + 300 * i) * t * (1 + t)) + 0.05 * rng.standard_normal(len(t))
        sf.write(root / f"a{i}.wav", x.astype(np.float32), 8000, subtype="PCM_16")
        waves.append(str(root / f"a{i}.wav"))
    return model_dir, export_onnx(model_dir, root / "m.onnx"), waves


def test_same_words_as_pytorch(exported):
    model_dir, onnx_path, waves = exported
    for decoder in ("greedy", "beam"):
        ours = [t.text for t in OnnxTranscriber(onnx_path, decoder).transcribe_many(waves)]
        ref = [t.text for t in Transcriber.from_pretrained(model_dir, "cpu", decoder=decoder,
                                                            word_times="ctc").transcribe_many(waves)]
        assert ours == ref
        assert any(ours), "the model says nothing: the comparison would be empty"


def test_word_times_equal_pytorch_ctc_times(exported):
    model_dir, onnx_path, waves = exported
    ours = OnnxTranscriber(onnx_path).transcribe(waves[1]).words
    ref = Transcriber.from_pretrained(model_dir, "cpu", word_times="ctc").transcribe(waves[1]).words
    assert [(w.word, w.start_s, w.end_s) for w in ours] == [(w.word, w.start_s, w.end_s) for w in ref]
    assert [w.confidence for w in ours] == pytest.approx([w.confidence for w in ref], abs=1e-4)


def test_cli_backend_onnx(exported, tmp_path):
    model_dir, onnx_path, waves = exported
    onnx_out = CliRunner().invoke(app, ["transcribe", "--backend", "onnx", str(onnx_path), *waves])
    torch_out = CliRunner().invoke(app, ["transcribe", "--word-times", "ctc", str(model_dir), *waves])
    assert onnx_out.exit_code == 0, onnx_out.output
    assert onnx_out.output == torch_out.output
    asr_file = tmp_path / "m.asr"
    assert CliRunner().invoke(app, ["export", str(model_dir), str(asr_file), "--onnx"]).exit_code == 0
    packed = CliRunner().invoke(app, ["transcribe", "--backend", "onnx", str(asr_file), *waves])
    assert packed.output == torch_out.output
    bad = CliRunner().invoke(app, ["transcribe", "--backend", "onnx", str(onnx_path), str(tmp_path / "no.wav")])
    assert bad.exit_code == 1 and "no.wav" in bad.output
    bad = CliRunner().invoke(app, ["transcribe", "--backend", "onnx", str(waves[0]), waves[0]])
    assert bad.exit_code == 1 and "not an ONNX model" in bad.output


def test_runtime_imports_no_torch(exported):
    """With torch made unimportable, the CLI's ONNX path still transcribes."""
    _, onnx_path, waves = exported
    code = ("import sys; sys.modules['torch'] = None; sys.modules['torchaudio'] = None\n"
            "from asr.cli import app\n"
            f"app(['transcribe', '--backend', 'onnx', {str(onnx_path)!r}, {waves[0]!r}])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(waves[0])
