"""sclite's summary figures (`sclite -o sum` and `-o rsum`), computed from sclite-weighted alignments.

Speakers appear in the order sclite lists them (first appearance in HYP). Percentages are of the speaker's
reference words (S.Err of its sentences); sclite prints one decimal. Mean, S.D. (n-1) and Median are taken
over speakers; for the word percentages a speaker without reference words is left out (sclite marks those
columns `+`), for counts and S.Err every speaker counts.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Optional

from asr.scoring.align import ErrorCounts

COLUMNS = ("snt", "wrd", "corr", "sub", "del", "ins", "err", "serr")
PCT_COLUMNS = ("corr", "sub", "del", "ins", "err")


@dataclass
class SpeakerScore:
    """Raw sclite counts of one speaker (or of the whole set)."""

    name: str
    snt: int = 0
    wrd: int = 0
    corr: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0
    serr: int = 0

    def add(self, counts: ErrorCounts) -> None:
        self.snt += 1
        self.wrd += counts.ref_len
        self.corr += counts.correct
        self.sub += counts.sub
        self.dels += counts.dels
        self.ins += counts.ins
        self.serr += counts.errors > 0

    @property
    def err(self) -> int:
        return self.sub + self.dels + self.ins

    def raw(self) -> dict:
        return {"snt": self.snt, "wrd": self.wrd, "corr": self.corr, "sub": self.sub, "del": self.dels,
                "ins": self.ins, "err": self.err, "serr": self.serr}

    def percent(self) -> dict:
        """sclite's `sum` row: counts of sentences/words, the rest percentages (None without ref words)."""
        raw = self.raw()
        out = {"snt": self.snt, "wrd": self.wrd}
        for col in PCT_COLUMNS:
            out[col] = pct(raw[col], self.wrd)
        out["serr"] = pct(self.serr, self.snt)
        return out


def pct(num: int, den: int) -> Optional[float]:
    return 100.0 * num / den if den else None


def _stats(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "sd": None, "median": None}
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": mean, "sd": sd, "median": statistics.median(values)}


@dataclass
class ScliteSummary:
    speakers: list[SpeakerScore]
    total: SpeakerScore

    @classmethod
    def build(cls, items: Iterable[tuple[str, ErrorCounts]]) -> "ScliteSummary":
        """From (speaker, counts) per utterance, in HYP order."""
        by_spk: dict[str, SpeakerScore] = {}
        total = SpeakerScore("Sum/Avg")
        for spk, counts in items:
            by_spk.setdefault(spk, SpeakerScore(spk)).add(counts)
            total.add(counts)
        return cls(list(by_spk.values()), total)

    def rsum(self) -> dict:
        """`-o rsum`: raw counts per speaker, their sum, and Mean/S.D./Median over speakers."""
        rows = [s.raw() for s in self.speakers]
        agg = {col: _stats([float(r[col]) for r in rows]) for col in COLUMNS}
        return {"speakers": [{"spkr": s.name, **r} for s, r in zip(self.speakers, rows)],
                "sum": self.total.raw(),
                **{k: {col: agg[col][k] for col in COLUMNS} for k in ("mean", "sd", "median")}}

    def sum(self) -> dict:
        """`-o sum`: percentages per speaker, Sum/Avg, and Mean/S.D./Median over speakers."""
        rows = [s.percent() for s in self.speakers]
        agg = {}
        for col in COLUMNS:
            if col in PCT_COLUMNS:
                vals = [r[col] for r in rows if r[col] is not None]
            else:
                vals = [float(r[col]) for r in rows if r[col] is not None]
            agg[col] = _stats(vals)
        return {"speakers": [{"spkr": s.name, **r} for s, r in zip(self.speakers, rows)],
                "sum": self.total.percent(),
                **{k: {col: agg[col][k] for col in COLUMNS} for k in ("mean", "sd", "median")}}

    def to_dict(self) -> dict:
        return {"sum": self.sum(), "rsum": self.rsum()}
