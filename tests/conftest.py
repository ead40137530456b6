"""Shared fixtures: the corpus mirror (when present) and small generated audio."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def corpus_path(name: str) -> Path | None:
    root = os.environ.get("ASR_CORPORA")
    if root and (Path(root) / name).is_dir():
        return Path(root) / name
    default = REPO.parent / "shared" / "corpora" / name
    return default if default.is_dir() else None


@pytest.fixture
def yesno_dir() -> Path:
    path = corpus_path("yesno")
    if path is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    return path / "waves_yesno"


@pytest.fixture
def tone_wav(tmp_path) -> Path:
    """One second of a 440 Hz tone plus noise, 16 kHz, 16-bit."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(16000)
    path = tmp_path / "tone.wav"
    sf.write(path, x, 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def yesno_run(tmp_path_factory):
    """The yesno recipe run once per session in a scratch copy of egs/yesno: (recipe dir, completed process)."""
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "egs" / "yesno", root / "egs" / "yesno",
                    ignore=shutil.ignore_patterns("data", "exp", "fbank"))
    (root / "recipes").symlink_to(REPO / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "ASR_CORPORA": ""}
    proc = subprocess.run(["bash", "run.sh", "--corpus-dir", str(corpus)], cwd=root / "egs" / "yesno", env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "egs" / "yesno", proc


@pytest.fixture(scope="session")
def yesno_model(yesno_run) -> Path:
    """A trained yesno model dir: $ASR_YESNO_MODEL when set, else the one the recipe run made."""
    if os.environ.get("ASR_YESNO_MODEL"):
        return Path(os.environ["ASR_YESNO_MODEL"])
    return yesno_run[0] / "exp" / "model"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests use tiny models, which run no faster on two threads and far slower when the cores are busy."""
    import torch

    torch.set_num_threads(1)
