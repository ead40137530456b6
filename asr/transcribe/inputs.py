"""What `asr transcribe` is pointed at -> the recordings to transcribe, in order.

An argument is
- `-`: audio on standard input;
- a folder: the audio files in it (by extension: wav, flac, ogg, mp3, ...), sorted (hidden and other files
  skipped, and counted in `notes`; with `recursive`, sub-folders too; a folder whose audio is only in
  sub-folders is an error that says to use -r);
- a file named `*.scp`: a Kaldi wav.scp (`utt-id path` or `utt-id command |`), paths relative to the working dir;
- a file named `*.list` or `*.lst`: one audio path per line (`#` comments), relative to the list's folder;
- anything else: one audio file.
Problems with one recording (unreadable, missing, an empty folder, a wav.scp or list line without audio) stay
with that recording, so the others are still transcribed; its error names the wav.scp or list file and line. A
wav.scp or list that cannot be read at all (not UTF-8, a duplicate id) is an error naming its file and line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from asr.data.kaldi_files import read_entries
from asr.errors import DataError

SCP_SUFFIXES = (".scp",)
LIST_SUFFIXES = (".list", ".lst")
# what a folder's audio files end with: libsndfile's formats (and other names for them), and audio formats it
# cannot read (m4a, aac, wma: named in an error rather than skipped in silence)
AUDIO_EXTENSIONS = frozenset(
    "wav wave flac ogg oga opus mp3 aif aiff aifc au snd caf w64 rf64 sph nist wv voc htk sd2 mat4 mat5 paf pvf "
    "xi avr ircam sf iff svx mpc m4a aac wma webm".split())


@dataclass(frozen=True)
class AudioInput:
    """`key` names the recording in the output (the path as given, a wav.scp id, or `-`); `spec` is what to
    read (a path, a Kaldi pipe, or `-`); `error` is set when the recording is known to be bad already; `where`
    is the wav.scp or list line it came from (`file:line`), which its reading errors name first."""

    key: str
    spec: str
    error: str | None = None
    where: str | None = None


def expand_inputs(args: Iterable[str], recursive: bool = False, notes: list[str] | None = None) -> list[AudioInput]:
    """The recordings of the arguments, in order; what was skipped in folders goes to `notes` (one line each)."""
    inputs: list[AudioInput] = []
    for arg in args:
        if arg == "-":
            inputs.append(AudioInput("-", "-"))
        elif os.path.isdir(arg):
            inputs.extend(folder_inputs(Path(arg), recursive, notes))
        elif os.path.isfile(arg) and arg.endswith(SCP_SUFFIXES):
            inputs.extend(read_wav_scp(arg))
        elif os.path.isfile(arg) and arg.endswith(LIST_SUFFIXES):
            inputs.extend(read_list(arg))
        else:
            inputs.append(AudioInput(arg, arg))
    return inputs


def is_audio_name(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS


def folder_inputs(folder: Path, recursive: bool, notes: list[str] | None) -> list[AudioInput]:
    files = folder_files(folder, recursive)
    audio = [f for f in files if is_audio_name(f)]
    others = [f for f in files if not is_audio_name(f)]
    if audio:
        if others and notes is not None:
            shown = ", ".join(f.name for f in others[:3]) + (", ..." if len(others) > 3 else "")
            notes.append(f"{folder}: skipped {len(others)} " + ("files that are" if len(others) > 1 else "file that is")
                         + f" not audio by name ({shown})")
        return [AudioInput(str(f), str(f)) for f in audio]
    if not recursive:
        below = [f for f in folder_files(folder, True) if is_audio_name(f)]
        if below:
            return [AudioInput(str(folder), str(folder), f"{folder}: no audio files in the folder itself, "
                                                         f"{len(below)} in sub-folders: add -r (--recursive)")]
    what = "no files" if not files else f"no audio files (of {len(files)} files)"
    return [AudioInput(str(folder), str(folder), f"{folder}: folder has {what}")]


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


def read_wav_scp(path: str) -> list[AudioInput]:
    """A wav.scp's recordings; a line without audio is a recording that fails naming the file and line. A line
    that cannot be read (not UTF-8) or a duplicate id is a DataError naming the file and line."""
    inputs, seen = [], set()
    for e in read_entries(path):
        if e.key in seen:
            raise DataError(f"{path}:{e.line}: duplicate key '{e.key}'")
        seen.add(e.key)
        error = None if e.value else f"{path}:{e.line}: utterance '{e.key}' has no audio"
        inputs.append(AudioInput(e.key, e.value, error, where=f"{path}:{e.line}"))
    return inputs


def read_list(path: str) -> list[AudioInput]:
    """One audio path per line (`#` comments, blank lines skipped), relative to the list's folder; a line that is
    not UTF-8 is a recording that fails naming the file and line."""
    base = os.path.dirname(path)
    items = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                key = f"{path}:{lineno}"
                items.append(AudioInput(key, key, f"{key}: not valid UTF-8 (expected one audio path per line)"))
                continue
            if not line or line.startswith("#"):
                continue
            spec = line if os.path.isabs(line) or line.endswith("|") else os.path.join(base, line)
            items.append(AudioInput(spec, spec, where=f"{path}:{lineno}"))
    return items
