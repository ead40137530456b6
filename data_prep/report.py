"""What a preparation could not use: each problem as `file:line: reason`, in `<data dir>/log/prepare_report.txt`.

Bad input never stops preparation: a problem drops its row (or file) and is listed; the rest is prepared. In
strict mode the first problem is a DataError instead (the CLI's one error line, exit 1).

    # prepare /corpus/train.tsv -> data/train: kept 8 utterances, dropped 2: 1 empty transcript, 1 missing audio
    /corpus/train.tsv:4: missing audio: /corpus/clips/a.mp3: no such audio file
    /corpus/train.tsv:7: empty transcript
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import DataError
from asr.fileio import atomic_write_text

REPORT = Path("log") / "prepare_report.txt"


@dataclass(frozen=True)
class Problem:
    where: str  # `file:line` (or `file`, `file[3]`)
    reason: str  # short category: "missing audio", "empty transcript", "duplicate id", ...
    detail: str = ""  # what exactly

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}" + (f": {' '.join(self.detail.split())}" if self.detail else "")


@dataclass
class PrepareReport:
    """The problems of one preparation; `add` raises at once in strict mode."""

    source: str
    strict: bool = False
    problems: list[Problem] = field(default_factory=list)
    kept: int = 0  # utterances written
    text_changes: str = ""  # what normalisation removed, one phrase (TextNormalizer.summary)

    def add(self, where: str, reason: str, detail: str = "") -> None:
        p = Problem(str(where), reason, detail)
        if self.strict:
            raise DataError(f"{p} (--strict)")
        self.problems.append(p)

    def extend(self, other: "PrepareReport") -> None:
        self.problems += other.problems

    def reasons(self) -> Counter:
        return Counter(p.reason for p in self.problems)

    def summary(self, out: str | os.PathLike | None = None) -> str:
        counts = sorted(self.reasons().items(), key=lambda x: (-x[1], x[0]))
        why = ", ".join(f"{n} {r}" for r, n in counts)
        target = f" -> {out}" if out is not None else ""
        return (f"prepare {self.source}{target}: kept {self.kept} utterances"
                + (f", dropped {len(self.problems)}: {why}" if self.problems else "")
                + (f"; text: {self.text_changes}" if self.text_changes else ""))

    def write(self, data_dir: str | os.PathLike) -> Path:
        path = Path(data_dir) / REPORT
        lines = [f"# {self.summary(data_dir)}"] + [str(p) for p in sorted(self.problems, key=_file_line)]
        atomic_write_text(path, "".join(line + "\n" for line in lines))
        return path


def _file_line(p: Problem) -> tuple[str, int]:
    """Sort key: the file, then the line number (`file:12`), so the report reads in file order."""
    m = re.fullmatch(r"(.*):(\d+)", p.where)
    return (m[1], int(m[2])) if m else (p.where, 0)


def read_problems(data_dir: str | os.PathLike) -> list[str]:
    """The problem lines of a data dir's report (header left out)."""
    path = Path(data_dir) / REPORT
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("# ")]


class SetReports:
    """The reports of a corpus preparation that writes several sets (train, dev, ...): a problem of a known set
    goes to that set's report and lowers the count its split rule promises; a problem of no set (a file whose
    name fits no set) goes to every set's report and lowers no count."""

    def __init__(self, source: str, names, strict: bool = False):
        self.reports = {n: PrepareReport(source, strict) for n in names}
        self.strict = strict
        self.dropped: Counter = Counter()

    def add(self, name: str | None, where: str, reason: str, detail: str = "", counted: bool = True) -> None:
        """`counted=False`: a file the split rule does not count (an extra file) lowers no count."""
        if self.strict:
            raise DataError(f"{Problem(str(where), reason, detail)} (--strict)")
        for n, r in self.reports.items():
            if name is None or n == name:
                r.add(where, reason, detail)
        if name is not None and counted:
            self.dropped[name] += 1

    def expected(self, counts: dict[str, int] | None) -> dict[str, int] | None:
        """The counts of the split rule less what was dropped from each set (the files found)."""
        return {n: c - self.dropped[n] for n, c in counts.items()} if counts is not None else None

    def write(self, written: dict[str, Path], kept: dict[str, int]) -> None:
        """Write `<set>/log/prepare_report.txt` for each set written; log a summary where anything was dropped."""
        from data_prep.common import log

        for n, path in written.items():
            r = self.reports[n]
            r.kept = kept[n]
            r.write(path)
            if r.problems:
                log.warning("%s (list: %s)", r.summary(path), Path(path) / REPORT)
