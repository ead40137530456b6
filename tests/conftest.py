"""Shared fixtures: the corpus mirror (when present), small generated audio, one yesno recipe run per session.
Helpers that test files import live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import corpus_path
from helpers.audio import tone
from helpers.recipes import run_recipe, scratch_recipe


@pytest.fixture
def yesno_dir() -> Path:
    path = corpus_path("yesno")
    if path is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    return path / "waves_yesno"


@pytest.fixture
def tone_wav(tmp_path) -> Path:
    """One second of a 440 Hz tone plus noise, 16 kHz, 16-bit."""
    x = tone(1.0, amplitude=0.3) + 0.01 * np.random.default_rng(0).standard_normal(16000)
    path = tmp_path / "tone.wav"
    sf.write(path, x, 16000, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def yesno_run(tmp_path_factory):
    """The yesno recipe run once per session in a scratch copy of egs/yesno: (recipe dir, completed process)."""
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    recipe = scratch_recipe(tmp_path_factory.mktemp("repo"))
    proc = run_recipe(recipe, "--corpus-dir", str(corpus))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return recipe, proc


@pytest.fixture(scope="session")
def yesno_model(request) -> Path:
    """A trained yesno model dir: $ASR_YESNO_MODEL when set (then the recipe does not run), else the one the
    recipe run made."""
    if os.environ.get("ASR_YESNO_MODEL"):
        return Path(os.environ["ASR_YESNO_MODEL"])
    return request.getfixturevalue("yesno_run")[0] / "exp" / "model"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests use tiny models, which run no faster on two threads and far slower when the cores are busy; each test
    starts on one (a training config without num_threads takes every core: `auto`)."""
    import torch

    torch.set_num_threads(1)
