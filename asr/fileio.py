"""Atomic file writes: write to a temporary file in the same directory, fsync, then rename. And `quiet_stderr`.

A reader never sees a half-written file, and a crash leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 previous: str | os.PathLike | None = None) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success fsync and rename it over `path`.

    With `previous`, the old `path` is kept there (hard-linked, then renamed, so that at every moment `path`
    is complete), and the directory is fsynced so the renames survive a power cut too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if previous is not None and path.exists():
            _keep_previous(path, Path(previous))
        os.replace(tmp, path)
        if previous is not None:
            _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _keep_previous(path: Path, previous: Path) -> None:
    link = previous.with_name(f".{previous.name}.link")
    link.unlink(missing_ok=True)
    try:
        os.link(path, link)
    except OSError:  # no hard links here: a copy does as well, just slower
        import shutil

        shutil.copyfile(path, link)
    os.replace(link, previous)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


def atomic_torch_save(obj, path: str | os.PathLike, previous: str | os.PathLike | None = None) -> None:
    """`torch.save` through a temporary file and rename (keeping the old file as `previous`, when given)."""
    import torch

    with atomic_write(path, "wb", previous=previous) as f:
        torch.save(obj, f)


def check_output_path(path: str | os.PathLike, folder: bool, what: str) -> None:
    """ConfigError (naming `path` and the option or argument `what`) when `path` cannot be written as a folder
    (`folder`) or a file: it exists as the other kind, or a parent on the way is a file."""
    from asr.errors import ConfigError

    p = Path(path)
    if p.exists() and folder and not p.is_dir():
        raise ConfigError(f"{p}: {what}: an existing file, not a folder")
    if p.is_dir() and not folder:
        raise ConfigError(f"{p}: {what}: an existing folder, not a file")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{p}: {what}: {parent} is a file, not a folder")
            break


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the duration: C/C++ libraries (KenLM, libmpg123) write there directly."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
