"""Score a hypothesis file against a reference and write the full report.

`score_files` computes every figure into a `Report`; `write_report` also writes, atomically, into one directory:

    wer           Kaldi's lines (%WER, %CER, %SER, the bootstrap interval)
    per_utt       Kaldi `wer_per_utt_details.pl` form: ref/hyp/op/#csid lines per utterance
    per_spk       Kaldi `wer_per_spk_details.pl` form: raw and sys rows per speaker, and SUM
    ops           Kaldi `wer_ops_details.pl` form: counts of every correct/substitution/insertion/deletion
    pralign       sclite-style alignment: id, Scores, REF/HYP/Eval lines with *** for gaps
    results.md    ESPnet `RESULTS.md` tables (WER and CER), sclite figures
    report.json   every figure, machine-readable
    report.html   one self-contained page with plots (see asr.scoring.html)

Two alignments are kept per utterance: Kaldi's plain Levenshtein (the %WER line, per_utt, ops, confusions) and
sclite's weighted one (results.md, the `sclite` section of report.json, pralign and the HTML alignments).
Both give the same error total; they may split it differently into Sub/Del/Ins.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from asr.data.kaldi_files import read_table
from asr.errors import DataError
from asr.fileio import atomic_write_text
from asr.scoring import formats
from asr.scoring.align import DEL, INS, SUB, ErrorCounts, Op, align, align_sclite, count_errors, ops_counts
from asr.scoring.normalize import Normalization
from asr.scoring.sclite import ScliteSummary
from asr.scoring.stats import DEFAULT_SAMPLES, BootstrapInterval, bootstrap_wer
from asr.scoring.transcripts import Pairing, pair, read_transcripts

TOP_N = 20


def speaker_of(utt: str) -> str:
    """Speaker from the id, as sclite's `-i rm`: the part before the first '-', else before the first '_',
    else the whole id."""
    for sep in ("-", "_"):
        head, found, _ = utt.partition(sep)
        if found and head:
            return head
    return utt


def chars(words: list[str]) -> list[str]:
    """Characters of the words, spaces left out (the usual Kaldi CER)."""
    return [c for w in words for c in w]


@dataclass
class UttScore:
    """One utterance: normalised words and both alignments (Kaldi-counted words and characters, sclite)."""

    utt: str
    spk: str
    ref: list[str]
    hyp: list[str]
    ops: list[Op]
    counts: ErrorCounts
    char_counts: ErrorCounts
    sclite_ops: list[Op]
    sclite: ErrorCounts
    sclite_char: ErrorCounts
    missing: bool = False  # no hypothesis in HYP, scored as empty

    @property
    def wer(self) -> float:
        return 100.0 * self.counts.rate

    def to_dict(self) -> dict:
        return {"utt": self.utt, "spk": self.spk, "ref": " ".join(self.ref), "hyp": " ".join(self.hyp),
                "ref_words": self.counts.ref_len, "sub": self.counts.sub, "del": self.counts.dels,
                "ins": self.counts.ins, "errors": self.counts.errors, "ref_chars": self.char_counts.ref_len,
                "char_errors": self.char_counts.errors, "missing_hyp": self.missing,
                "sclite": {"corr": self.sclite.correct, "sub": self.sclite.sub, "del": self.sclite.dels,
                           "ins": self.sclite.ins},
                "align": [[o.kind, o.ref, o.hyp] for o in self.sclite_ops]}


def kaldi_percent(num: int, den: int) -> float:
    """Kaldi's rate: computed in double, stored in a 32-bit float, printed with two decimals."""
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(np.float32(100.0 * num / den))


def kaldi_line(tag: str, c: ErrorCounts, partial: bool = False) -> str:
    """`%WER 12.34 [ 5 / 40, 1 ins, 2 del, 2 sub ]` as Kaldi's compute-wer prints it."""
    line = (f"%{tag} {kaldi_percent(c.errors, c.ref_len):.2f} [ {c.errors} / {c.ref_len}, {c.ins} ins, "
            f"{c.dels} del, {c.sub} sub ]")
    return line + (" [PARTIAL]" if partial else "")


@dataclass
class Report:
    name: str
    ref_path: str
    hyp_path: str
    normalization: Normalization
    pairing: Pairing
    utts: list[UttScore]
    speaker_source: str
    bootstrap: BootstrapInterval
    word: ErrorCounts = field(default_factory=ErrorCounts)
    char: ErrorCounts = field(default_factory=ErrorCounts)
    sent_errors: int = 0

    def __post_init__(self):
        for u in self.utts:
            self.word += u.counts
            self.char += u.char_counts
            self.sent_errors += u.counts.errors > 0

    # ---- figures ------------------------------------------------------------------------------------
    @property
    def num_sent(self) -> int:
        return len(self.utts)

    @property
    def wer(self) -> float:
        return 100.0 * self.word.rate

    @property
    def cer(self) -> float:
        return 100.0 * self.char.rate

    @property
    def ser(self) -> float:
        return 100.0 * self.sent_errors / self.num_sent if self.num_sent else 0.0

    def kaldi_lines(self) -> list[str]:
        """%WER, %CER, %SER and Kaldi's 'Scored N sentences' line."""
        partial = bool(self.pairing.missing_hyp)
        return [kaldi_line("WER", self.word, partial), kaldi_line("CER", self.char, partial),
                f"%SER {kaldi_percent(self.sent_errors, self.num_sent):.2f} [ {self.sent_errors} / {self.num_sent} ]",
                f"Scored {self.num_sent} sentences, {len(self.pairing.missing_hyp)} not present in hyp."]

    def warnings(self) -> list[str]:
        return self.pairing.warnings()

    def sclite_summary(self, level: str = "word") -> ScliteSummary:
        """sclite's figures; utterances in HYP order (sclite's speaker order), REF-only ones after."""
        order = {u: i for i, u in enumerate(self.pairing.hyp)}
        utts = sorted(self.utts, key=lambda u: order.get(u.utt, len(order)))
        return ScliteSummary.build((u.spk, u.sclite if level == "word" else u.sclite_char) for u in utts)

    def per_speaker(self) -> dict[str, dict]:
        """Kaldi counts per speaker (speakers sorted)."""
        out: dict[str, dict] = {}
        for u in sorted(self.utts, key=lambda u: u.spk):
            s = out.setdefault(u.spk, {"sent": 0, "sent_err": 0, "word": ErrorCounts(), "char": ErrorCounts()})
            s["sent"] += 1
            s["sent_err"] += u.counts.errors > 0
            s["word"] += u.counts
            s["char"] += u.char_counts
        return out

    def confusions(self, top: int = TOP_N) -> dict:
        """Most frequent substitution pairs, insertions and deletions (Kaldi alignment)."""
        subs, ins, dels = Counter(), Counter(), Counter()
        for u in self.utts:
            for op in u.ops:
                if op.kind == SUB:
                    subs[(op.ref, op.hyp)] += 1
                elif op.kind == INS:
                    ins[op.hyp] += 1
                elif op.kind == DEL:
                    dels[op.ref] += 1
        return {"substitutions": [{"ref": r, "hyp": h, "count": n} for (r, h), n in _top(subs, top)],
                "insertions": [{"word": w, "count": n} for w, n in _top(ins, top)],
                "deletions": [{"word": w, "count": n} for w, n in _top(dels, top)]}

    def ops_table(self) -> list[tuple[str, str, str, int]]:
        """Every (kind, ref, hyp) with its count, as Kaldi's `ops` file."""
        c = Counter()
        names = {"C": "correct", "S": "substitution", "I": "insertion", "D": "deletion"}
        for u in self.utts:
            for op in u.ops:
                c[(names[op.kind], op.ref if op.ref is not None else "***",
                   op.hyp if op.hyp is not None else "***")] += 1
        return [(k, r, h, n) for (k, r, h), n in sorted(c.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0]))]

    def length_buckets(self) -> list[dict]:
        """WER by reference length (words), in buckets, for the WER-vs-length plot."""
        edges = [0, 1, 5, 10, 15, 20, 30, 50, 10 ** 9]
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = [u for u in self.utts if lo <= u.counts.ref_len < hi]
            if not sel:
                continue
            c = sum((u.counts for u in sel), ErrorCounts())
            label = f"{lo}" if hi == lo + 1 else (f"{lo}+" if hi > 10 ** 8 else f"{lo}-{hi - 1}")
            rows.append({"bucket": label, "utts": len(sel), "words": c.ref_len, "errors": c.errors,
                         "wer": 100.0 * c.rate if c.ref_len else None})
        return rows

    def to_dict(self) -> dict:
        """Everything, machine-readable (report.json)."""
        spk = {name: {"sent": s["sent"], "sent_err": s["sent_err"], "words": s["word"].ref_len,
                      "sub": s["word"].sub, "del": s["word"].dels, "ins": s["word"].ins,
                      "errors": s["word"].errors, "wer": _rate(s["word"]), "chars": s["char"].ref_len,
                      "char_errors": s["char"].errors, "cer": _rate(s["char"]),
                      "ser": 100.0 * s["sent_err"] / s["sent"]}
               for name, s in self.per_speaker().items()}
        return {
            "name": self.name, "ref": self.ref_path, "hyp": self.hyp_path,
            "normalization": self.normalization.to_dict(),
            "speakers_from": self.speaker_source,
            "kaldi": {"lines": self.kaldi_lines(),
                      "wer": _figures(self.word), "cer": _figures(self.char),
                      "ser": {"rate": self.ser, "errors": self.sent_errors, "sentences": self.num_sent},
                      "alignment": "Levenshtein, unit costs, compute-wer tie-breaking"},
            "sclite": {"wer": self.sclite_summary("word").to_dict(),
                       "cer": self.sclite_summary("char").to_dict(),
                       "alignment": "sclite weights: substitution 4, insertion/deletion 3; "
                                    "case-insensitive (ASCII), as `sclite -i rm`"},
            "bootstrap": self.bootstrap.to_dict(),
            "missing": self.pairing.missing_note(),
            "per_speaker": spk,
            "confusions": self.confusions(),
            "wer_by_length": self.length_buckets(),
            "utterances": [u.to_dict() for u in self.utts],
        }


def _top(counter: Counter, n: int):
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _rate(c: ErrorCounts) -> Optional[float]:
    return 100.0 * c.rate if c.ref_len else None


def _figures(c: ErrorCounts) -> dict:
    return {"rate": _rate(c), "errors": c.errors, "ref": c.ref_len, "ins": c.ins, "del": c.dels, "sub": c.sub,
            "corr": c.correct}


def score_utterance(utt: str, spk: str, ref: list[str], hyp: list[str], missing: bool = False) -> UttScore:
    ops = align(ref, hyp)
    sc_ops = align_sclite(ref, hyp)
    return UttScore(utt, spk, ref, hyp, ops, ops_counts(ops), count_errors(chars(ref), chars(hyp)), sc_ops,
                    ops_counts(sc_ops), ops_counts(align_sclite(chars(ref), chars(hyp))), missing)


def score_files(ref_path: str | os.PathLike, hyp_path: str | os.PathLike,
                utt2spk: Optional[str | os.PathLike] = None,
                normalization: Optional[Normalization] = None, mode: str = "all", name: Optional[str] = None,
                bootstrap_samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Report:
    """Read, pair, normalise and score; nothing is written."""
    norm = normalization or Normalization()
    ref = read_transcripts(ref_path)
    hyp = read_transcripts(hyp_path)
    pairing = pair(ref, hyp, ref_path, hyp_path, mode=mode)
    if utt2spk is not None:
        spk_of = read_table(utt2spk)
        missing_spk = [u for u in pairing.utts if u not in spk_of]
        if missing_spk:
            raise DataError(f"{utt2spk}: no speaker for {len(missing_spk)} scored utterance(s), "
                            f"e.g. '{missing_spk[0]}'")
        speaker_source = str(utt2spk)
    else:
        spk_of = {u: speaker_of(u) for u in pairing.utts}
        speaker_source = "utterance id prefix (before the first '-', else '_'), as sclite -i rm"
    utts = []
    for u in pairing.utts:
        missing = u not in hyp
        utts.append(score_utterance(u, spk_of[u] or u, norm.words(ref[u]), norm.words(hyp.get(u, "")), missing))
    errors = [x.counts.errors for x in utts]
    words = [x.counts.ref_len for x in utts]
    boot = bootstrap_wer(errors, words, samples=bootstrap_samples, seed=seed)
    if name is None:
        name = Path(hyp_path).resolve().parent.name or str(hyp_path)
    return Report(name, str(ref_path), str(hyp_path), norm, pairing, utts, speaker_source, boot)


def write_report(ref_path: str | os.PathLike, hyp_path: str | os.PathLike, out_dir: str | os.PathLike,
                 utt2spk: Optional[str | os.PathLike] = None, normalization: Optional[Normalization] = None,
                 mode: str = "all", name: Optional[str] = None, html: bool = True,
                 bootstrap_samples: int = DEFAULT_SAMPLES, seed: int = 0) -> Report:
    """Score and write every report file into `out_dir` (created if needed). Returns the Report."""
    report = score_files(ref_path, hyp_path, utt2spk=utt2spk, normalization=normalization, mode=mode, name=name,
                         bootstrap_samples=bootstrap_samples, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "wer", formats.wer_file(report))
    atomic_write_text(out / "per_utt", formats.per_utt(report))
    atomic_write_text(out / "per_spk", formats.per_spk(report))
    atomic_write_text(out / "ops", formats.ops(report))
    atomic_write_text(out / "pralign", formats.pralign(report))
    atomic_write_text(out / "results.md", formats.results_md(report))
    atomic_write_text(out / "report.json", json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n")
    if html:
        from asr.scoring.html import report_html

        atomic_write_text(out / "report.html", report_html(report))
    return report
