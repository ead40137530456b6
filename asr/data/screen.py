"""Screening reports: which utterances a stage dropped and why (as `utils/fix_data_dir.sh` says what it drops).

Each stage that screens its input writes one report, `data/<set>/log/<stage>_report.txt` (training writes its
own under `exp/<run>/log/`):

    # feats data/train: kept 35 of 40 utterances, dropped 5: 2 not audio, 1 NaN samples, 1 missing file, ...
    utt_a	not audio	/corpus/a.wav: cannot decode audio: Format not recognised.
    utt_b	NaN samples	/corpus/b.wav: audio contains NaN or infinite samples

By default a stage drops the bad utterances and goes on with the good ones; strict mode (`--strict`) stops with
an error instead. The header counts describe the run that wrote the report. A stage re-run on a data dir it has
already cleaned lists the earlier entries of utterances no longer there after a `# dropped by an earlier run`
line, so a re-run never loses what the first run found.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from asr.errors import DataError
from asr.fileio import atomic_write_text

MAX_IN_ERROR = 5  # utterances named in a --strict error message


@dataclass(frozen=True)
class Rejected:
    utt: str
    reason: str  # short category, e.g. "not audio", "too short for CTC"
    detail: str  # one line: file and what is wrong

    def line(self) -> str:
        return f"{self.utt}\t{self.reason}\t{' '.join(self.detail.split())}"


@dataclass
class ScreenReport:
    stage: str  # fix, feats, train, dev, ...
    source: str  # what was screened (a data dir)
    total: int  # utterances (or lines) screened
    rejected: list[Rejected] = field(default_factory=list)
    earlier: list[Rejected] = field(default_factory=list)  # an earlier run's, for utterances no longer screened

    @property
    def kept(self) -> int:
        return self.total - len({r.utt for r in self.rejected if r.reason not in KEEPS_UTTERANCE})

    def reasons(self) -> Counter:
        return Counter(r.reason for r in self.rejected)

    def summary(self) -> str:
        counts = sorted(self.reasons().items(), key=lambda x: (-x[1], x[0]))
        why = ", ".join(f"{n} {reason}" for reason, n in counts if reason not in KEEPS_UTTERANCE)
        extra = ", ".join(f"{n} {reason} line{'s' * (n != 1)}" for reason, n in counts if reason in KEEPS_UTTERANCE)
        earlier = len({r.utt for r in self.earlier})
        return (f"{self.stage} {self.source}: kept {self.kept} of {self.total} utterances, "
                f"dropped {self.total - self.kept}" + (f": {why}" if why else "")
                + (f"; removed {extra}" if extra else "")
                + (f"; {earlier} more listed as dropped by an earlier run" if earlier else ""))

    def text(self) -> str:
        lines = [f"# {self.summary()}"] + [r.line() for r in self.rejected]
        if self.earlier:
            lines += [EARLIER] + [r.line() for r in self.earlier]
        return "".join(f"{line}\n" for line in lines)

    def write(self, path: str | os.PathLike, screened: set[str] | None = None) -> Path:
        """Write the report; entries of an earlier report at `path` for utterances not in `screened` (those
        this run did not see: an earlier run dropped them) are carried over into `earlier`."""
        path = Path(path)
        if screened is not None and path.is_file():
            old = read_report(path)
            self.earlier = [r for r in old.rejected + old.earlier if r.utt not in screened]
        atomic_write_text(path, self.text())
        return path

    def check(self, strict: bool, path: str | os.PathLike | None = None) -> None:
        """In strict mode, any rejection is a DataError naming the first few."""
        if not strict or not self.rejected:
            return
        named = "; ".join(f"{r.utt}: {' '.join(r.detail.split())}" for r in self.rejected[:MAX_IN_ERROR])
        more = f"; ... {len(self.rejected) - MAX_IN_ERROR} more" if len(self.rejected) > MAX_IN_ERROR else ""
        where = f" (all in {path})" if path else ""
        raise DataError(f"{self.source}: {len(self.rejected)} bad utterance{'s' * (len(self.rejected) != 1)} "
                        f"with --strict: {named}{more}{where}")


# A duplicate line is dropped while its utterance (the first line) stays.
KEEPS_UTTERANCE = frozenset({"duplicate id"})
EARLIER = "# dropped by an earlier run:"


def report_path(data_dir: str | os.PathLike, stage: str) -> Path:
    return Path(data_dir) / "log" / f"{stage}_report.txt"


def read_report(path: str | os.PathLike) -> ScreenReport:
    """Parse a report written by `ScreenReport.write` (the header's counts are recomputed from the lines)."""
    path = Path(path)
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = text.removesuffix("\n").split("\n")  # not splitlines(): ids may hold \x1c, \x85, \u2028, ...
    if not lines or not lines[0].startswith("# "):
        raise DataError(f"{path}:1: not a screening report")
    stage, _, rest = lines[0][2:].partition(" ")
    head = re.search(r": kept \d+ of (\d+) utterances", rest)
    if head is None:
        raise DataError(f"{path}:1: not a screening report header")
    source, total = rest[:head.start()], int(head[1])
    report = ScreenReport(stage, source, total)
    into = report.rejected
    for lineno, line in enumerate(lines[1:], start=2):
        if line == EARLIER:
            into = report.earlier
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataError(f"{path}:{lineno}: expected `utt<TAB>reason<TAB>detail`")
        into.append(Rejected(*parts))
    return report
