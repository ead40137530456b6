"""Repair a data directory in place, as Kaldi's `utils/fix_data_dir.sh` does.

Sort every file, drop duplicate keys (the first line wins) and lines that are not UTF-8, keep only utterances
present and well formed in every per-utterance file (utt2spk, text, segments, feats.scp, utt2dur,
utt2num_frames; wav.scp without segments) whose speaker (cmvn.scp, spk2gender) and recording (wav.scp,
reco2dur, ...) exist, and whose audio file exists and is not empty (pipes are not run); drop speakers and
recordings left with nothing, regenerate spk2utt. Changed files are first copied into `.backup/` (as Kaldi
does) and rewritten atomically. `fix_and_report` also lists each dropped utterance with its reason.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.data.kaldi_files import Entry, read_entries
from asr.data.screen import Rejected, ScreenReport, report_path
from asr.data.subset import filter_data_dir
from asr.data.validate import KNOWN_FILES, RECO_FILES, UTT_FILES, line_fault, wav_fault
from asr.errors import DataError


@dataclass
class FixReport:
    source: str  # the data dir
    dropped: Counter = field(default_factory=Counter)  # reason -> number of utterances
    speakers_dropped: int = 0
    recordings_dropped: int = 0
    rewritten: list[str] = field(default_factory=list)
    backup: Path | None = None
    rejected: list[Rejected] = field(default_factory=list)  # each dropped utterance / duplicate line, and why
    screened: set[str] = field(default_factory=set)  # every utterance id seen

    @property
    def total(self) -> int:
        return len(self.screened)

    @property
    def kept(self) -> int:
        return self.total - sum(self.dropped.values())

    def screen_report(self) -> ScreenReport:
        """The `log/fix_report.txt` form; its header is also the first line printed."""
        return ScreenReport("fix", self.source, self.total, list(self.rejected))

    def __str__(self) -> str:
        s = self.screen_report().summary()
        gone = [f"{n} {what}{'s' * (n != 1)}" for n, what in ((self.speakers_dropped, "speaker"),
                                                              (self.recordings_dropped, "recording")) if n]
        s += f"; dropped {' and '.join(gone)} left without utterances" if gone else ""
        if not self.rewritten:
            return f"{s}\nno file changed"
        return f"{s}\nrewrote {', '.join(self.rewritten)} (originals in {self.backup})"


def fix_data_dir(path: str | os.PathLike, dry_run: bool = False) -> FixReport:
    """Fix the data directory `path` in place; see the module docstring. Lines that are not valid UTF-8 (or
    have no key) drop their utterance. `dry_run`: only report what would be dropped."""
    d = Path(path)
    if not d.is_dir():
        raise DataError(f"{d}: not a directory")
    for name in ("utt2spk", "wav.scp"):
        if not (d / name).is_file():
            raise DataError(f"{d / name}: required file is missing")
    skipped: dict[str, list[Entry]] = {n: [] for n in KNOWN_FILES}
    entries = {n: read_entries(d / n, skipped[n]) for n in KNOWN_FILES if (d / n).is_file()}
    tables = {n: {} for n in entries}
    for n, es in entries.items():
        for e in es:
            tables[n].setdefault(e.key, e.value)
    segments = tables.get("segments")
    utt_files = [n for n in UTT_FILES if n in tables] + ([] if segments is not None else ["wav.scp"])

    unreadable = {n: {e.key: e for e in skipped[n] if e.key} for n in utt_files}
    report = FixReport(str(path), backup=d / ".backup")
    kept = []
    for utt in sorted(set().union(*(tables[n] for n in utt_files), *unreadable.values())):
        bad = next(((n, unreadable[n][utt]) for n in utt_files if utt in unreadable[n]), None)
        if bad is not None:
            n, e = bad
            reason = f"{'transcript' if n == 'text' else n + ' line'} {e.value}"
            detail = f"{d / n}:{e.line}: {e.value}"
        else:
            reason, detail = _why_dropped(d, utt, tables, utt_files)
        if reason:
            report.dropped[reason] += 1
            report.rejected.append(Rejected(utt, reason, detail))
        else:
            kept.append(utt)
            report.rejected += _duplicate_lines(d, utt, entries, utt_files)
    report.screened = set(kept) | {r.utt for r in report.rejected}
    if dry_run:
        return report

    speakers = {tables["utt2spk"][u] for u in kept}
    recordings = {segments[u].split()[0] for u in kept} if segments is not None else set(kept)
    all_speakers = set(tables["utt2spk"].values()) | {k for n in ("spk2utt", "cmvn.scp") for k in tables.get(n, ())}
    report.speakers_dropped = len(all_speakers - speakers)
    report.recordings_dropped = len(set(tables["wav.scp"]) - recordings)
    report.rewritten = filter_data_dir(d, d, kept, backup=report.backup, skip_bad_lines=True)
    return report


def fix_and_report(path: str | os.PathLike, strict: bool = False) -> tuple[FixReport, Path]:
    """`fix_data_dir`, writing the list of what it dropped to `<dir>/log/fix_report.txt`; with `strict`, a
    data dir with anything to drop is left as it is and raises DataError."""
    report = fix_data_dir(path, dry_run=strict)
    if strict and not report.rejected:
        report = fix_data_dir(path)
    screen = report.screen_report()
    out = screen.write(report_path(path, "fix"), screened=report.screened)
    screen.check(strict, out)
    return report, out


def _duplicate_lines(d: Path, utt: str, entries: dict[str, list[Entry]], utt_files: list[str]) -> list[Rejected]:
    out = []
    for n in utt_files:
        lines = [e.line for e in entries[n] if e.key == utt]
        out += [Rejected(utt, "duplicate id", f"{d / n}:{line}: repeats the id of line {lines[0]}")
                for line in lines[1:]]
    return out


def _why_dropped(d: Path, utt: str, tables: dict[str, dict[str, str]],
                 utt_files: list[str]) -> tuple[str | None, str]:
    """Why `utt` cannot stay (the first reason found, and a line naming the file), or (None, "")."""
    for n in utt_files:
        if utt not in tables[n]:
            return f"not in {n}", f"{d / n}: no line for '{utt}'"
    for n in utt_files:
        fault = line_fault(n, tables[n][utt])
        if fault:
            return (fault if n == "text" else f"bad line in {n}"), f"{d / n}: '{utt}': {fault}"
    speaker = tables["utt2spk"][utt]
    recording = tables["segments"][utt].split()[0] if "segments" in tables else utt
    for names, what, key in ((("cmvn.scp", "spk2gender"), "speaker", speaker), (RECO_FILES, "recording", recording)):
        for n in (n for n in names if n in tables):
            if key not in tables[n]:
                return f"{what} not in {n}", f"{d / n}: no line for {what} '{key}'"
            fault = line_fault(n, tables[n][key])
            if fault:
                return f"bad line in {n}", f"{d / n}: {what} '{key}': {fault}"
    fault = wav_fault(tables["wav.scp"][recording])  # a file that is not there cannot be repaired later
    if fault:
        reason = ("missing file" if fault.startswith("no such file") else
                  "empty file" if fault.startswith("empty file") else "bad line in wav.scp")
        return reason, f"{d / 'wav.scp'}: '{recording}': {fault}"
    return None, ""
