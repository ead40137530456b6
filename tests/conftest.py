"""Shared fixtures: the corpus mirror (when present) and small generated audio."""

from __future__ import annotations

import os
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
