"""What `asr transcribe` is pointed at -> the recordings to transcribe, in order.

An argument is
- `-`: audio on standard input;
- a folder: the files in it, sorted (hidden files skipped; with `recursive`, sub-folders too);
- a file named `*.scp`: a Kaldi wav.scp (`utt-id path` or `utt-id command |`), paths relative to the working dir;
- a file named `*.list` or `*.lst`: one audio path per line (`#` comments), relative to the list's folder;
- anything else: one audio file.
Problems with one recording (unreadable, missing, an empty folder) stay with that recording, so the others are
still transcribed; a malformed wav.scp or list is an error naming its file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from asr.data.kaldi_files import read_table
from asr.errors import DataError

SCP_SUFFIXES = (".scp",)
LIST_SUFFIXES = (".list", ".lst")


@dataclass(frozen=True)
class AudioInput:
    """`key` names the recording in the output (the path as given, a wav.scp id, or `-`); `spec` is what to
    read (a path, a Kaldi pipe, or `-`); `error` is set when the recording is known to be bad already."""

    key: str
    spec: str
    error: str | None = None


def expand_inputs(args: Iterable[str], recursive: bool = False) -> list[AudioInput]:
    inputs: list[AudioInput] = []
    for arg in args:
        if arg == "-":
            inputs.append(AudioInput("-", "-"))
        elif os.path.isdir(arg):
            files = folder_files(Path(arg), recursive)
            if files:
                inputs.extend(AudioInput(str(f), str(f)) for f in files)
            else:
                inputs.append(AudioInput(arg, arg, f"{arg}: folder has no files"))
        elif os.path.isfile(arg) and arg.endswith(SCP_SUFFIXES):
            inputs.extend(AudioInput(key, value) for key, value in read_wav_scp(arg).items())
        elif os.path.isfile(arg) and arg.endswith(LIST_SUFFIXES):
            inputs.extend(AudioInput(p, p) for p in read_list(arg))
        else:
            inputs.append(AudioInput(arg, arg))
    return inputs


def folder_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Regular files in `folder` (sorted, hidden ones skipped); sub-folders too when `recursive`."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if recursive:
                found.extend(folder_files(entry, True))
        elif entry.is_file():
            found.append(entry)
    return found


def read_wav_scp(path: str) -> dict[str, str]:
    table = read_table(path)
    for key, value in table.items():
        if not value:
            raise DataError(f"{path}: utterance '{key}' has no audio")
    return table


def read_list(path: str) -> list[str]:
    base = os.path.dirname(path)
    items = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (expected one audio path per line)") from None
            if not line or line.startswith("#"):
                continue
            items.append(line if os.path.isabs(line) or line.endswith("|") else os.path.join(base, line))
    return items
