"""Repair a data directory in place, as Kaldi's `utils/fix_data_dir.sh` does.

Sort every file, drop duplicate keys (the first line wins), keep only utterances present and well formed in
every per-utterance file (utt2spk, text, segments, feats.scp, utt2dur, utt2num_frames; wav.scp without
segments) whose speaker (cmvn.scp, spk2gender) and recording (wav.scp, reco2dur, ...) exist, drop speakers
and recordings left with nothing, regenerate spk2utt. Changed files are first copied into `.backup/`
(as Kaldi does) and rewritten atomically.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.data.kaldi_files import read_entries
from asr.data.subset import filter_data_dir
from asr.data.validate import KNOWN_FILES, RECO_FILES, UTT_FILES, line_fault
from asr.errors import DataError


@dataclass
class FixReport:
    kept: int
    dropped: Counter = field(default_factory=Counter)  # reason -> number of utterances
    speakers_dropped: int = 0
    recordings_dropped: int = 0
    rewritten: list[str] = field(default_factory=list)
    backup: Path | None = None

    @property
    def total(self) -> int:
        return self.kept + sum(self.dropped.values())

    def __str__(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items(), key=lambda rn: (-rn[1], rn[0])))
        s = f"kept {self.kept} of {self.total} utterances, dropped {self.total - self.kept}" + (why and f": {why}")
        gone = [f"{n} {what}{'s' * (n != 1)}" for n, what in ((self.speakers_dropped, "speaker"),
                                                              (self.recordings_dropped, "recording")) if n]
        s += f"; dropped {' and '.join(gone)} left without utterances" if gone else ""
        if not self.rewritten:
            return f"{s}\nno file changed"
        return f"{s}\nrewrote {', '.join(self.rewritten)} (originals in {self.backup})"


def fix_data_dir(path: str | os.PathLike) -> FixReport:
    """Fix the data directory `path` in place; see the module docstring."""
    d = Path(path)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory")
    for name in ("utt2spk", "wav.scp"):
        if not (d / name).is_file():
            raise DataError(f"{d / name}: required file is missing")
    entries = {n: read_entries(d / n) for n in KNOWN_FILES if (d / n).is_file()}
    tables = {n: {} for n in entries}
    for n, es in entries.items():
        for e in es:
            tables[n].setdefault(e.key, e.value)
    segments = tables.get("segments")
    utt_files = [n for n in UTT_FILES if n in tables] + ([] if segments is not None else ["wav.scp"])

    duplicates: Counter = Counter()  # utterance -> extra copies (the most in any one file)
    for n in utt_files:
        for key, count in Counter(e.key for e in entries[n]).items():
            duplicates[key] = max(duplicates[key], count - 1)
    report = FixReport(kept=0, backup=d / ".backup")
    kept = []
    for utt in sorted(set().union(*(tables[n] for n in utt_files))):
        reason = _why_dropped(utt, tables, utt_files)
        if reason:
            report.dropped[reason] += 1 + duplicates[utt]
        else:
            kept.append(utt)
            if duplicates[utt]:
                report.dropped["duplicate"] += duplicates[utt]
    report.kept = len(kept)

    speakers = {tables["utt2spk"][u] for u in kept}
    recordings = {segments[u].split()[0] for u in kept} if segments is not None else set(kept)
    all_speakers = set(tables["utt2spk"].values()) | {k for n in ("spk2utt", "cmvn.scp") for k in tables.get(n, ())}
    report.speakers_dropped = len(all_speakers - speakers)
    report.recordings_dropped = len(set(tables["wav.scp"]) - recordings)
    report.rewritten = filter_data_dir(d, d, kept, backup=report.backup)
    return report


def _why_dropped(utt: str, tables: dict[str, dict[str, str]], utt_files: list[str]) -> str | None:
    """Why `utt` cannot stay (the first reason found), or None."""
    for n in utt_files:
        if utt not in tables[n]:
            return f"not in {n}"
    for n in utt_files:
        fault = line_fault(n, tables[n][utt])
        if fault:
            return fault if n == "text" else f"bad line in {n}"
    speaker = tables["utt2spk"][utt]
    for n in ("cmvn.scp", "spk2gender"):
        if n in tables and speaker not in tables[n]:
            return f"speaker not in {n}"
    recording = tables["segments"][utt].split()[0] if "segments" in tables else utt
    for n in RECO_FILES:
        if n in tables and recording not in tables[n]:
            return f"recording not in {n}"
    return None
