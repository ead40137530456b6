"""Done-when 2 of issue #23: in a fresh venv with only the runtime extra (the project installed --no-deps, then
onnxruntime, NumPy, soundfile, typer, PyYAML), `asr transcribe --backend onnx model.onnx a.wav` gives the words
of the PyTorch path. Opt-in (ASR_RUNTIME_VENV=1): it installs from the package index, which tests may not reach
by default, and takes a minute or two. tests/runtime/test_runtime.py checks the same without torch importable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DEPS = ["onnxruntime>=1.18", "numpy>=1.24", "soundfile>=0.12", "typer>=0.12", "pyyaml>=6"]  # pyproject's


@pytest.mark.runtime_venv
@pytest.mark.skipif(os.environ.get("ASR_RUNTIME_VENV") != "1", reason="opt-in: ASR_RUNTIME_VENV=1 (needs the index)")
def test_runtime_only_venv_gives_the_pytorch_words(tmp_path):
    pytest.importorskip("onnxruntime")
    from typer.testing import CliRunner

    from asr.cli import app
    from asr.export.onnx import export_onnx
    from helpers.transcribe import make_model_dir

    corpus = Path(os.environ.get("ASR_CORPORA", "/nonexistent")) / "yesno" / "waves_yesno"
    waves = sorted(str(p) for p in corpus.glob("*.wav"))[:3]
    if not waves:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    model_dir = make_model_dir(tmp_path / "exp", seed=3)
    onnx_path = export_onnx(model_dir, tmp_path / "m.onnx")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *RUNTIME_DEPS], check=True, timeout=900)
    src = tmp_path / "src"  # a copy: pip builds in the source tree (build/), which must not be the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("asr", "data_prep"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([*pip, "--no-deps", str(src)], check=True, timeout=900, cwd=tmp_path)
    proc = subprocess.run([str(venv / "bin" / "asr"), "transcribe", "--backend", "onnx", str(onnx_path), *waves],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    has_torch = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True)
    assert has_torch.returncode != 0, "the runtime venv must not have torch"
    ref = CliRunner().invoke(app, ["transcribe", "--word-times", "ctc", str(model_dir), *waves])
    assert proc.stdout == ref.output
