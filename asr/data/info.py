"""A summary of a data directory: counts, durations, words and characters, files present."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asr.data.datadir import DataDir
from asr.data.validate import KNOWN_FILES, require_valid_data_dir


@dataclass(frozen=True)
class DataDirInfo:
    path: Path
    files: list[str]
    utterances: int
    speakers: int
    recordings: int
    words: int | None = None  # in text, when present
    chars: int | None = None  # non-space characters in text
    total_s: float | None = None  # from utt2dur, when present
    min_s: float | None = None
    max_s: float | None = None

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.utterances} utterances, {self.speakers} speakers, "
                 f"{self.recordings} recordings", f"files: {' '.join(self.files)}"]
        if self.words is not None:
            lines.append(f"text: {self.words} words, {self.chars} characters")
        if self.total_s is not None:
            lines.append(f"duration: {self.total_s / 3600:.2f} h ({self.total_s:.1f} s), "
                         f"min {self.min_s:.2f} s, max {self.max_s:.2f} s")
        return "\n".join(lines)


def data_dir_info(path: str | os.PathLike) -> DataDirInfo:
    """The summary of a valid data dir (DataError naming the first fault of another)."""
    require_valid_data_dir(path)
    d = DataDir.load(path)
    files = [n for n in KNOWN_FILES if (Path(path) / n).is_file()]
    recordings = {s.recording_id for s in d.segments.values()} if d.segments is not None else set(d.wav_scp)
    words = [w for t in d.text.values() for w in t.split()] if d.text is not None else None
    durs = list(d.utt2dur.values()) if d.utt2dur else None
    return DataDirInfo(Path(path), sorted(files), len(d.utt2spk), len(set(d.utt2spk.values())), len(recordings),
                       None if words is None else len(words), None if words is None else sum(map(len, words)),
                       sum(durs) if durs else None, min(durs) if durs else None, max(durs) if durs else None)
