"""A Kaldi data directory as typed records: load, save, and iterate utterances.

Files: wav.scp (recording -> path or `cmd |`), text, utt2spk, spk2utt, [segments], [utt2dur],
[feats.scp], [cmvn.scp]. Without `segments`, utterance ids are recording ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from asr.data.kaldi_files import read_table, utt2spk_to_spk2utt, write_table
from asr.errors import DataError

FILES = ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "feats.scp", "cmvn.scp")
FEATS_CONFIG = "feats.yaml"  # the options `asr feats` made feats.scp with
FEATURE_FILES = ("feats.scp", "utt2num_frames", "cmvn.scp", FEATS_CONFIG)  # what `asr feats` writes into a data dir


@dataclass(frozen=True)
class Segment:
    """An utterance cut from a recording: `segments` line `utt rec start_s end_s` (end -1 = to the end)."""

    recording_id: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    speaker: str
    wav: str | None  # the wav.scp value of its recording (path or pipe)
    start_s: float = 0.0
    end_s: float | None = None  # None: to the end of the recording
    text: str | None = None


@dataclass
class DataDir:
    """The contents of a data directory; optional files are None when absent."""

    wav_scp: dict[str, str] = field(default_factory=dict)
    text: dict[str, str] | None = None
    utt2spk: dict[str, str] = field(default_factory=dict)
    segments: dict[str, Segment] | None = None
    utt2dur: dict[str, float] | None = None
    feats_scp: dict[str, str] | None = None
    cmvn_scp: dict[str, str] | None = None
    path: Path | None = None

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        return utt2spk_to_spk2utt(self.utt2spk)

    @property
    def utt_ids(self) -> list[str]:
        return sorted(self.utt2spk)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DataDir":
        """Read a data dir. Raises DataError (file:line) for malformed lines or duplicate keys."""
        path = Path(path)
        if not path.is_dir():
            raise DataError(f"{path}: not a data directory")

        def opt(name):
            return read_table(path / name) if (path / name).exists() else None

        d = cls(path=path)
        d.wav_scp = opt("wav.scp") or {}
        d.text = opt("text")
        d.utt2spk = opt("utt2spk") or {}
        d.feats_scp = opt("feats.scp")
        d.cmvn_scp = opt("cmvn.scp")
        seg = opt("segments")
        if seg is not None:
            d.segments = {}
            for utt, value in seg.items():
                fields = value.split()
                try:
                    d.segments[utt] = Segment(fields[0], float(fields[1]), float(fields[2]))
                except (IndexError, ValueError):
                    raise DataError(f"{path / 'segments'}: bad line for '{utt}': expected `utt rec start end`") from None
        dur = opt("utt2dur")
        if dur is not None:
            try:
                d.utt2dur = {u: float(v) for u, v in dur.items()}
            except ValueError:
                raise DataError(f"{path / 'utt2dur'}: duration is not a number") from None
        return d

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write every present file (sorted, atomically) and derive spk2utt from utt2spk."""
        path = Path(path or self.path)
        path.mkdir(parents=True, exist_ok=True)
        write_table(path / "wav.scp", self.wav_scp)
        write_table(path / "utt2spk", self.utt2spk)
        write_table(path / "spk2utt", self.spk2utt)
        if self.text is not None:
            write_table(path / "text", self.text)
        if self.segments is not None:
            write_table(path / "segments", {u: f"{s.recording_id} {s.start_s:.2f} {s.end_s:.2f}"
                                            for u, s in self.segments.items()})
        if self.utt2dur is not None:
            write_table(path / "utt2dur", {u: f"{d:.3f}" for u, d in self.utt2dur.items()})
        if self.feats_scp is not None:
            write_table(path / "feats.scp", self.feats_scp)
        if self.cmvn_scp is not None:
            write_table(path / "cmvn.scp", self.cmvn_scp)
        self.path = path
        return path

    def utterances(self) -> Iterator[Utterance]:
        """Utterances in sorted id order, with their recording and time span."""
        for utt in self.utt_ids:
            text = self.text.get(utt) if self.text is not None else None
            if self.segments is not None:
                seg = self.segments[utt]
                end = None if seg.end_s < 0 else seg.end_s
                yield Utterance(utt, self.utt2spk[utt], self.wav_scp.get(seg.recording_id), seg.start_s, end, text)
            else:
                yield Utterance(utt, self.utt2spk[utt], self.wav_scp.get(utt), text=text)
