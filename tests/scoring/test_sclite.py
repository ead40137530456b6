"""Our figures against the real tools' definitions, on three REF/HYP pairs (yesno decode, synthetic with empty
and long utterances, non-ASCII words):

* the sclite section of report.json (sum and rsum, words and characters, every speaker row, Sum, Mean, S.D.,
  Median) and results.md equal `sclite -i rm -o sum rsum` (Debian package sctk), number for number;
* the Kaldi %WER line equals Kaldi's compute-wer counts (a transcription of its DP) and jiwer's error total.

sclite is installed by .ci/run (apt-get install sctk); these tests skip only when the binary really is absent.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jiwer
import pytest

from asr.scoring.align import ErrorCounts
from asr.scoring.normalize import Normalization
from asr.scoring.report import kaldi_line, write_report
from helpers.scoring_cases import (
    char_table,
    find_sclite,
    kaldi_reference_counts,
    synthetic_pairs,
    unicode_pairs,
    write_pairs,
    write_trn,
    yesno_pairs,
)

SCLITE = find_sclite()
needs_sclite = pytest.mark.skipif(SCLITE is None, reason="sclite not installed (Debian package `sctk`; "
                                                         ".ci/run installs it when run as root)")
COLS = ["snt", "wrd", "corr", "sub", "del", "ins", "err", "serr"]


def _case(name):
    if name == "yesno":
        pairs = yesno_pairs()
        if pairs is None:
            pytest.skip("yesno corpus not found (ASR_CORPORA or /work/shared/corpora)")
        return pairs
    return {"synthetic": synthetic_pairs, "unicode": unicode_pairs}[name]()


def parse_sclite_table(path: Path) -> dict[str, list[str]]:
    """Rows of a sclite .sys/.raw table: label -> the 8 cells as printed (markers `*`/`+` kept)."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|") or line.count("|") != 4:
            continue
        _, label, left, right, _ = line.split("|")
        label = label.strip()
        if label == "SPKR" or not label or set(label) <= set("-=+"):
            continue
        rows[label] = (left + " " + right).split()
    return rows


def run_sclite(tmp: Path, ref: dict[str, str], hyp: dict[str, str], tag: str):
    ref_trn = write_trn(tmp / f"ref_{tag}.trn", ref)
    hyp_trn = write_trn(tmp / f"hyp_{tag}.trn", hyp)
    out = tmp / f"sclite_{tag}"
    out.mkdir()
    proc = subprocess.run([SCLITE, "-r", str(ref_trn), "trn", "-h", str(hyp_trn), "trn", "-i", "rm",
                           "-o", "sum", "rsum", "-O", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (parse_sclite_table(out / f"{hyp_trn.name}.sys"), parse_sclite_table(out / f"{hyp_trn.name}.raw"))


def _ours_rows(section: dict, kind: str) -> dict[str, dict]:
    o = section[kind]
    rows = {r["spkr"]: r for r in o["speakers"]}
    rows["Sum/Avg" if kind == "sum" else "Sum"] = o["sum"]
    rows.update({"Mean": o["mean"], "S.D.": o["sd"], "Median": o["median"]})
    return rows


def assert_table_equal(sclite_rows: dict, section: dict, kind: str, what: str):
    ours = _ours_rows(section, kind)
    raw = {r["spkr"]: r for r in section["rsum"]["speakers"]}
    assert list(sclite_rows) == list(ours), f"{what}: rows differ"
    for label, cells in sclite_rows.items():
        for col, cell in zip(COLS, cells):
            value = ours[label][col]
            if cell.endswith("*"):  # a speaker without reference words: sclite prints counts
                value, cell = raw[label][col], cell[:-1]
            cell = cell.rstrip("+")
            summary_row = label in ("Mean", "S.D.", "Median")
            if summary_row or (kind == "sum" and col not in ("snt", "wrd")):
                mine = "None" if value is None else f"{value:.1f}"
            else:
                mine = str(value)
            assert mine == cell, f"{what} {kind} row {label!r} column {col}: sclite {cell}, ours {mine}"


@needs_sclite
@pytest.mark.parametrize("case", ["yesno", "synthetic", "unicode"])
def test_sclite_figures_equal_sclite(case, tmp_path):
    pairs = _case(case)
    ref = {u: r for u, (r, _) in pairs.items()}
    hyp = {u: h for u, (_, h) in pairs.items()}
    ref_path, hyp_path = write_pairs(tmp_path / "in", pairs, "text")
    write_report(ref_path, hyp_path, tmp_path / "rep", normalization=Normalization.none(), name="test",
                 html=False, bootstrap_samples=50)
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    results_md = (tmp_path / "rep" / "results.md").read_text(encoding="utf-8")
    md_rows = re.findall(r"^\|test\|(.*)\|$", results_md, flags=re.M)
    assert len(md_rows) == 2, results_md
    for (level, r, h), md_row in zip((("wer", ref, hyp), ("cer", char_table(ref), char_table(hyp))), md_rows):
        sys_rows, raw_rows = run_sclite(tmp_path, r, h, level)
        section = report["sclite"][level]
        assert_table_equal(sys_rows, section, "sum", f"{case}/{level}")
        assert_table_equal(raw_rows, section, "rsum", f"{case}/{level}")
        assert md_row.split("|") == sys_rows["Sum/Avg"], f"{case}/{level}: results.md row differs from sclite"


@pytest.mark.parametrize("case", ["yesno", "synthetic", "unicode"])
def test_kaldi_line_equals_compute_wer_and_jiwer(case, tmp_path):
    pairs = _case(case)
    ref_path, hyp_path = write_pairs(tmp_path, pairs, "trn")
    report = write_report(ref_path, hyp_path, tmp_path / "rep", normalization=Normalization.none(), html=False,
                          bootstrap_samples=10)
    expected = ErrorCounts()
    jiwer_errors = 0
    for ref, hyp in pairs.values():
        r, h = ref.split(), hyp.split()
        sub, dels, ins = kaldi_reference_counts(r, h)
        expected += ErrorCounts(len(r), sub, dels, ins)
        if r:
            o = jiwer.process_words(ref, hyp)
            jiwer_errors += o.substitutions + o.deletions + o.insertions
        else:
            jiwer_errors += len(h)
    assert report.kaldi_lines()[0] == kaldi_line("WER", expected)
    assert report.word.errors == jiwer_errors
    assert (tmp_path / "rep" / "wer").read_text().splitlines()[0] == kaldi_line("WER", expected)
    sclite_sum = report.sclite_summary("word").total
    assert sclite_sum.wrd == expected.ref_len
    if case != "unicode":  # no case variants: sclite's total equals Kaldi's, only the split may differ
        assert sclite_sum.err == expected.errors
