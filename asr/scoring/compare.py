"""Compare two systems on the same utterances: paired bootstrap probability that B is better (Kaldi's
`compute-wer-bootci` "Probability of Set2 improving Set1"), per-speaker and per-utterance differences.

Inputs are two `report.json` files (written by `asr score --out`), or REF HYP_A HYP_B (scored here with the
default normalisation). Only utterances scored in both are compared; the text says how many were left out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from asr.errors import DataError
from asr.fileio import atomic_write_text
from asr.scoring.stats import DEFAULT_SAMPLES, bootstrap_wer, paired_bootstrap

TOP_UTTS = 20


@dataclass
class System:
    """What a comparison needs of one scored system: per utterance (speaker, ref words, errors)."""

    name: str  # the label shown (distinct from the other system's)
    source: str  # the file it was read from
    utts: dict[str, tuple[str, int, int]]
    refs: dict[str, str] = field(default_factory=dict)
    hyp: str = ""  # the hypothesis file scored

    def title(self) -> str:
        """`name (source)`, or just the name when that is the source."""
        return self.name if self.name == self.source else f"{self.name} ({self.source})"

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "System":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise DataError(f"{path}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not a report.json ({e})") from None
        if not isinstance(d, dict) or "utterances" not in d:
            raise DataError(f"{path}: not a report.json written by `asr score` (no 'utterances')")
        try:
            utts = {u["utt"]: (u["spk"], u["ref_words"], u["errors"]) for u in d["utterances"]}
            refs = {u["utt"]: u["ref"] for u in d["utterances"]}
        except (KeyError, TypeError) as e:
            raise DataError(f"{path}: not a report.json written by `asr score` (an utterance lacks {e})") from None
        return cls(str(d.get("name") or path), str(path), utts, refs, str(d.get("hyp") or path))

    @classmethod
    def from_report(cls, report) -> "System":
        return cls(report.name, report.hyp_path,
                   {u.utt: (u.spk, u.counts.ref_len, u.counts.errors) for u in report.utts},
                   {u.utt: " ".join(u.ref) for u in report.utts}, report.hyp_path)


def distinct_labels(paths: Sequence[str]) -> list[str]:
    """The shortest trailing parts that tell `paths` apart (`x/sc/hyp`, `y/sc/hyp` -> `x/sc/hyp`, `y/sc/hyp`;
    `sc/hyp_a`, `sc/hyp_b` -> `hyp_a`, `hyp_b`); the paths as given when no suffix does."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    for k in range(1, max(map(len, parts)) + 1):
        labels = ["/".join(p[-k:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def _wer(errors: int, words: int) -> Optional[float]:
    return 100.0 * errors / words if words else None


@dataclass
class Comparison:
    a: System
    b: System
    utts: list[str]
    left_out: int
    p_b_better: float
    samples: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def _sum(self, sys: System, utts=None) -> tuple[int, int]:
        utts = self.utts if utts is None else utts
        return sum(sys.utts[u][2] for u in utts), sum(sys.utts[u][1] for u in utts)

    def speakers(self) -> list[dict]:
        by: dict[str, list[str]] = {}
        for u in self.utts:
            by.setdefault(self.a.utts[u][0], []).append(u)
        rows = []
        for spk in sorted(by):
            ea, w = self._sum(self.a, by[spk])
            eb, _ = self._sum(self.b, by[spk])
            wa, wb = _wer(ea, w), _wer(eb, w)
            rows.append({"spk": spk, "utts": len(by[spk]), "words": w, "errors_a": ea, "errors_b": eb,
                         "wer_a": wa, "wer_b": wb, "diff": None if wa is None else wb - wa})
        return rows

    def utterances(self, top: int = TOP_UTTS) -> list[dict]:
        """Utterances whose error count changed most (B minus A), worst regressions and best gains."""
        rows = [{"utt": u, "spk": self.a.utts[u][0], "words": self.a.utts[u][1], "errors_a": self.a.utts[u][2],
                 "errors_b": self.b.utts[u][2], "diff": self.b.utts[u][2] - self.a.utts[u][2]}
                for u in self.utts if self.b.utts[u][2] != self.a.utts[u][2]]
        rows.sort(key=lambda r: (-abs(r["diff"]), r["utt"]))
        return rows[:top]

    def to_dict(self) -> dict:
        ea, w = self._sum(self.a)
        eb, _ = self._sum(self.b)
        ba = bootstrap_wer([self.a.utts[u][2] for u in self.utts], [self.a.utts[u][1] for u in self.utts],
                           self.samples, self.seed)
        bb = bootstrap_wer([self.b.utts[u][2] for u in self.utts], [self.b.utts[u][1] for u in self.utts],
                           self.samples, self.seed)
        changed = [u for u in self.utts if self.a.utts[u][2] != self.b.utts[u][2]]
        return {"a": {"name": self.a.name, "source": self.a.source, "errors": ea, "wer": _wer(ea, w),
                      "bootstrap": ba.to_dict()},
                "b": {"name": self.b.name, "source": self.b.source, "errors": eb, "wer": _wer(eb, w),
                      "bootstrap": bb.to_dict()},
                "utterances_compared": len(self.utts), "words": w, "left_out": self.left_out,
                "p_b_better": self.p_b_better, "samples": self.samples, "seed": self.seed,
                "utts_better_in_b": sum(self.b.utts[u][2] < self.a.utts[u][2] for u in changed),
                "utts_worse_in_b": sum(self.b.utts[u][2] > self.a.utts[u][2] for u in changed),
                "speakers": self.speakers(), "top_utterance_changes": self.utterances()}

    def text(self) -> str:
        d = self.to_dict()
        f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        lines = [f"note: {n}" for n in self.notes]
        for tag, system in (("a", self.a), ("b", self.b)):
            lines.append(f"{tag.upper()}: {system.title()}  %WER {f(d[tag]['wer'])} [ {d[tag]['errors']} / {d['words']} ]")
        lines += [f"Compared {d['utterances_compared']} utterances"
                 + (f" ({d['left_out']} scored in only one system, left out)" if d["left_out"] else ""),
                 f"Set1: %WER {d['a']['bootstrap']['mean']:.2f} 95% Conf Interval "
                 f"[ {d['a']['bootstrap']['low']:.2f}, {d['a']['bootstrap']['high']:.2f} ]",
                 f"Set2: %WER {d['b']['bootstrap']['mean']:.2f} 95% Conf Interval "
                 f"[ {d['b']['bootstrap']['low']:.2f}, {d['b']['bootstrap']['high']:.2f} ]",
                 f"Probability of Set2 improving Set1: {100.0 * self.p_b_better:.1f}%  "
                 f"(P(B better than A), paired bootstrap, {self.samples} replications, seed {self.seed})",
                 f"Utterances better in B: {d['utts_better_in_b']}, worse in B: {d['utts_worse_in_b']}",
                 "", "Per speaker (WER %, B - A):",
                 f"{'SPEAKER':<16} {'#UTT':>6} {'#WORD':>7} {'WER(A)':>8} {'WER(B)':>8} {'DIFF':>8}"]
        for r in d["speakers"]:
            diff = "-" if r["diff"] is None else format(r["diff"], "+.2f")
            lines.append(f"{r['spk']:<16} {r['utts']:>6} {r['words']:>7} {f(r['wer_a']):>8} {f(r['wer_b']):>8} "
                         f"{diff:>8}")
        lines += ["", f"Per utterance (largest changes in errors, B - A; top {TOP_UTTS}):",
                  f"{'UTT':<24} {'#WORD':>6} {'ERR(A)':>7} {'ERR(B)':>7} {'DIFF':>6}"]
        for r in d["top_utterance_changes"]:
            lines.append(f"{r['utt']:<24} {r['words']:>6} {r['errors_a']:>7} {r['errors_b']:>7} {r['diff']:>+6}")
        if not d["top_utterance_changes"]:
            lines.append("(no utterance changed)")
        return "\n".join(lines)

    def html(self) -> str:
        from asr.scoring.html import render

        d = self.to_dict()
        f = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        speakers = [[r["spk"], r["utts"], r["words"], f(r["wer_a"]), f(r["wer_b"]),
                     "-" if r["diff"] is None else format(r["diff"], "+.2f")] for r in d["speakers"]]
        changed = [[r["utt"], r["words"], r["errors_a"], r["errors_b"], format(r["diff"], "+d")]
                   for r in d["top_utterance_changes"]]
        systems = {tag: {"title": system.title(), "wer": f(d[tag]["wer"])}
                   for tag, system in (("a", self.a), ("b", self.b))}
        return render("compare.html", **systems, p_b_better=f"{100.0 * self.p_b_better:.1f}",
                      utterances=d["utterances_compared"], samples=self.samples, left_out=d["left_out"],
                      plot=_speaker_plot(d["speakers"]), speakers=speakers, utterances_changed=changed)


def _speaker_plot(rows: list[dict]) -> Optional[str]:
    rows = [r for r in rows if r["diff"] is not None]
    if not rows:
        return None
    from asr.scoring.html import figure, png_uri

    fig, ax = figure(max(5.0, 0.35 * len(rows) + 2), 3.0)
    ax.bar(range(len(rows)), [r["diff"] for r in rows],
           color=["#2e8b57" if r["diff"] < 0 else "#c0392b" for r in rows])
    ax.axhline(0, color="#333", lw=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["spk"] for r in rows], rotation=60 if len(rows) > 8 else 0, fontsize=8)
    ax.set_ylabel("WER B - A (points)")
    ax.set_title("Per-speaker WER difference (below 0: B better)")
    return png_uri(fig)


def compare_systems(a: System, b: System, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Comparison:
    common = [u for u in a.utts if u in b.utts]
    if not common:
        raise DataError(f"{a.source} and {b.source}: no utterance in common")
    for u in common:
        what = _reference_difference(a, b, u)
        if what:
            raise DataError(f"{a.source} and {b.source}: utterance '{u}' has different references ({what}); "
                            "compare systems scored on the same REF")
    left_out = len(set(a.utts) ^ set(b.utts))
    p = paired_bootstrap([a.utts[u][2] for u in common], [b.utts[u][2] for u in common], samples, seed)
    return Comparison(a, b, common, left_out, p, samples, seed)


def _reference_difference(a: System, b: System, utt: str) -> str | None:
    """How the two references of `utt` differ (word counts, else the first differing word), or None."""
    if a.utts[utt][1] != b.utts[utt][1]:
        return f"{a.utts[utt][1]} vs {b.utts[utt][1]} words"
    if not (a.refs and b.refs) or a.refs[utt] == b.refs[utt]:
        return None
    wa, wb = a.refs[utt].split(), b.refs[utt].split()
    i = next((i for i, (x, y) in enumerate(zip(wa, wb)) if x != y), min(len(wa), len(wb)))
    if i >= min(len(wa), len(wb)):
        return f"'{a.refs[utt]}' vs '{b.refs[utt]}'"
    return f"both {len(wa)} words, word {i + 1} is '{wa[i]}' vs '{wb[i]}'"


def compare_inputs(inputs: Sequence[str | os.PathLike], out_dir: Optional[str | os.PathLike] = None,
                   utt2spk=None, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Comparison:
    """`asr compare`: A.json B.json, or REF HYP_A HYP_B."""
    if len(inputs) == 2:
        a, b = System.from_json(inputs[0]), System.from_json(inputs[1])
        if a.name == b.name:  # e.g. both named after their folder: told apart by their paths
            a.name, b.name = distinct_labels([a.hyp, b.hyp] if a.hyp != b.hyp else [a.source, b.source])
    elif len(inputs) == 3:
        from asr.scoring.report import score_files

        ref, hyp_a, hyp_b = inputs
        ra = score_files(ref, hyp_a, utt2spk=utt2spk, bootstrap_samples=1)
        rb = score_files(ref, hyp_b, utt2spk=utt2spk, bootstrap_samples=1)
        a, b = System.from_report(ra), System.from_report(rb)
        a.name, b.name = distinct_labels([str(hyp_a), str(hyp_b)])
        notes = [f"A: {w}" for w in ra.warnings()] + [f"B: {w}" for w in rb.warnings()]
    else:
        raise DataError(f"asr compare takes A.json B.json, or REF HYP_A HYP_B ({len(inputs)} given)")
    comparison = compare_systems(a, b, samples=samples, seed=seed)
    if len(inputs) == 3:
        comparison.notes = notes
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "compare.txt", comparison.text() + "\n")
        atomic_write_text(out / "compare.json", json.dumps(comparison.to_dict(), indent=1, ensure_ascii=False) + "\n")
        atomic_write_text(out / "compare.html", comparison.html())
    return comparison
