"""Helpers shared by several test files (tests/<package>/test_*.py never import each other): the repository, the
corpus mirror, generated audio (audio), tiny models and data (decode, transcribe, training), scoring cases."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def corpus_path(name: str) -> Path | None:
    """The corpus `name` in $ASR_CORPORA or the mirror beside the repository, else None."""
    root = os.environ.get("ASR_CORPORA")
    if root and (Path(root) / name).is_dir():
        return Path(root) / name
    default = REPO.parent / "shared" / "corpora" / name
    return default if default.is_dir() else None
