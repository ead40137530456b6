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

from audio_helpers import tone

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
    x = tone(1.0, amplitude=0.3) + 0.01 * np.random.default_rng(0).standard_normal(16000)
    path = tmp_path / "tone.wav"
    sf.write(path, x, 16000, subtype="PCM_16")
    return path


def scratch_recipe(root: Path, corpus: str = "yesno", ignore: tuple[str, ...] = ()) -> Path:
    """A copy of egs/<corpus> (without its outputs) under root, beside a link to recipes/: the recipe dir."""
    shutil.copytree(REPO / "egs" / corpus, root / "egs" / corpus,
                    ignore=shutil.ignore_patterns("data", "exp", "fbank", *ignore))
    if not (root / "recipes").exists():
        (root / "recipes").symlink_to(REPO / "recipes")
    return root / "egs" / corpus


def recipe_env() -> dict:
    """The recipe's environment: this venv first, no corpus mirror (tests pass --corpus-dir), one OpenMP thread
    per process (the machine's cores are shared)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "ASR_CORPORA": "",
            "OMP_NUM_THREADS": "1"}


def run_recipe(recipe: Path, *args: str, cwd: Path | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
    """`bash run.sh ARGS` in the recipe's folder, or from `cwd` by the script's path relative to it."""
    script = os.path.relpath(recipe / "run.sh", cwd or recipe)
    return subprocess.run(["bash", script, *args], cwd=cwd or recipe, env=recipe_env(), capture_output=True,
                          text=True, timeout=timeout)


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
