"""Recipe runs in a scratch copy of egs/<corpus>: the copy, the environment, the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO


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
