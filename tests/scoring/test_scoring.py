"""asr.scoring: hand-counted Kaldi lines, both input forms, normalisation, mismatched ids, bootstrap, compare,
and the `asr score` / `asr compare` commands."""

from __future__ import annotations

import json
import random

import jiwer
import pytest
from typer.testing import CliRunner

from asr.cli import app
from asr.errors import DataError
from asr.scoring.align import align, align_sclite, count_errors, ops_counts
from asr.scoring.compare import compare_inputs, distinct_labels
from asr.scoring.normalize import Normalization
from asr.scoring.report import score_files, speaker_of, write_report
from asr.scoring.stats import bootstrap_wer, paired_bootstrap
from helpers.scoring_cases import (
    kaldi_reference_counts,
    synthetic_pairs,
    write_pairs,
    write_text,
    write_trn,
    yesno_pairs,
)

runner = CliRunner()


def _files(tmp_path, ref: dict, hyp: dict, form="text"):
    w = write_text if form == "text" else write_trn
    return w(tmp_path / f"ref.{form}", ref), w(tmp_path / f"hyp.{form}", hyp)


# ---- counts -------------------------------------------------------------------------------------------------

def test_count_errors_hand_counted():
    c = count_errors("a b c d".split(), "a x c".split())
    assert (c.ref_len, c.sub, c.dels, c.ins, c.errors) == (4, 1, 1, 0, 2)
    assert count_errors([], []).rate == 0.0
    assert count_errors([], ["a"]).ins == 1 and count_errors([], ["a"]).rate == float("inf")
    assert count_errors(["a", "b"], []).dels == 2


def test_count_errors_follows_compute_wer_tie_breaking():
    # two minimal alignments of cost 2: two substitutions, or a deletion and an insertion; Kaldi takes the latter
    c = count_errors("a a b c".split(), "a a c a".split())
    assert (c.sub, c.dels, c.ins) == kaldi_reference_counts("a a b c".split(), "a a c a".split()) == (0, 1, 1)
    assert [o.kind for o in align("a a b c".split(), "a a c a".split())] == list("CCDCI")
    assert [o.kind for o in align("a b".split(), "b a".split())] == list("DCI")
    rng = random.Random(0)
    for _ in range(400):
        r = [rng.choice("abc") for _ in range(rng.randint(0, 9))]
        h = [rng.choice("abc") for _ in range(rng.randint(0, 9))]
        c = count_errors(r, h)
        assert (c.sub, c.dels, c.ins) == kaldi_reference_counts(r, h), (r, h)
        assert ops_counts(align(r, h)) == c
        if r:
            o = jiwer.process_words(" ".join(r), " ".join(h))
            assert c.errors == o.substitutions + o.deletions + o.insertions


def test_alignment_ops_cover_both_sequences():
    rng = random.Random(1)
    for _ in range(200):
        r = [rng.choice("abcd") for _ in range(rng.randint(0, 8))]
        h = [rng.choice("abcd") for _ in range(rng.randint(0, 8))]
        for ops in (align(r, h), align_sclite(r, h)):
            assert [o.ref for o in ops if o.ref is not None] == r
            assert [o.hyp for o in ops if o.hyp is not None] == h


def test_sclite_alignment_prefers_substitution_and_folds_ascii_case():
    # "a b c d" vs "a x c": substitution b->x and deletion of d (as sclite prints it)
    assert [o.kind for o in align_sclite("a b c d".split(), "a x c".split())] == list("CSCD")
    assert [o.kind for o in align_sclite(["Hello", "É"], ["hello", "é"])] == ["C", "S"]
    assert [o.kind for o in align_sclite(["a*"], ["a"])] == ["C"]


# ---- the Kaldi lines ----------------------------------------------------------------------------------------

def test_identical_gives_zero(tmp_path):
    ref = {f"s1-u{i}": "yes no yes" for i in range(4)}
    r = score_files(*_files(tmp_path, ref, dict(ref)))
    assert r.kaldi_lines()[:3] == ["%WER 0.00 [ 0 / 12, 0 ins, 0 del, 0 sub ]",
                                   "%CER 0.00 [ 0 / 32, 0 ins, 0 del, 0 sub ]", "%SER 0.00 [ 0 / 4 ]"]


def test_empty_hypotheses_are_all_deletions(tmp_path):
    r = score_files(*_files(tmp_path, {"a-1": "one two", "a-2": "three"}, {"a-1": "", "a-2": ""}))
    assert r.kaldi_lines()[0] == "%WER 100.00 [ 3 / 3, 0 ins, 3 del, 0 sub ]"
    assert r.kaldi_lines()[2] == "%SER 100.00 [ 2 / 2 ]"


def test_insertions_counted(tmp_path):
    r = score_files(*_files(tmp_path, {"a-1": "a b", "a-2": ""}, {"a-1": "a x b y", "a-2": "z"}))
    assert r.kaldi_lines()[0] == "%WER 150.00 [ 3 / 2, 3 ins, 0 del, 0 sub ]"
    assert r.sent_errors == 2


def test_trn_and_text_forms_agree(tmp_path):
    pairs = synthetic_pairs()
    text = score_files(*write_pairs(tmp_path / "t", pairs, "text"), bootstrap_samples=10)
    trn = score_files(*write_pairs(tmp_path / "n", pairs, "trn"), bootstrap_samples=10)
    assert text.kaldi_lines() == trn.kaldi_lines()
    assert text.word.errors > 0 and text.word.ref_len > 1000


def test_kaldi_text_id_only_line_is_an_empty_reference(tmp_path):
    ref = tmp_path / "ref"
    ref.write_text("s-1\ns-2 a b\n")
    hyp = tmp_path / "hyp"
    hyp.write_text("s-1 x\ns-2 a b\n")
    r = score_files(ref, hyp)
    assert r.kaldi_lines()[0] == "%WER 50.00 [ 1 / 2, 1 ins, 0 del, 0 sub ]"


@pytest.mark.parametrize("form", ["text", "trn"])
@pytest.mark.parametrize("marked", [(0,), (1,), (0, 1)])
def test_a_byte_order_mark_changes_nothing(tmp_path, form, marked):
    """Files saved by Windows editors start with a BOM: it is not part of the first id (nor a word)."""
    ref, hyp = _files(tmp_path, {"s-1": "a b c", "s-2": "d e f g"}, {"s-1": "a x c", "s-2": "d e f g"}, form)
    plain = runner.invoke(app, ["score", str(ref), str(hyp)])
    for path in [(ref, hyp)[i] for i in marked]:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    bom = runner.invoke(app, ["score", str(ref), str(hyp)])
    assert bom.exit_code == plain.exit_code == 0, bom.output
    assert bom.stdout == plain.stdout and bom.stdout.startswith("%WER 14.29 [ 1 / 7, 0 ins, 0 del, 1 sub ]\n")
    assert "PARTIAL" not in bom.output


# ---- mismatched and bad input -------------------------------------------------------------------------------

def test_mismatched_ids_are_reported_and_counted(tmp_path):
    ref, hyp = _files(tmp_path, {"s-1": "a b", "s-2": "c d e"}, {"s-1": "a b", "s-3": "z"})
    r = write_report(ref, hyp, tmp_path / "out", html=False, bootstrap_samples=10)
    assert r.kaldi_lines()[0] == "%WER 60.00 [ 3 / 5, 0 ins, 3 del, 0 sub ] [PARTIAL]"
    assert r.kaldi_lines()[3] == "Scored 2 sentences, 1 not present in hyp."
    warnings = " ".join(r.warnings())
    assert "1 utterance(s) in REF have no hypothesis" in warnings and "s-2" in warnings
    assert "1 utterance(s) in HYP are not in REF" in warnings and "s-3" in warnings
    missing = json.loads((tmp_path / "out" / "report.json").read_text())["missing"]
    assert missing["ref_only"] == 1 and missing["ref_only_ids"] == ["s-2"]
    assert missing["hyp_only"] == 1 and missing["hyp_only_ids"] == ["s-3"]
    assert "empty" in missing["ref_only_counted_as"]
    present = score_files(ref, hyp, mode="present")
    assert present.kaldi_lines()[0] == "%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ] [PARTIAL]"
    with pytest.raises(DataError, match="only in"):
        score_files(ref, hyp, mode="strict")


def test_bad_inputs_give_clear_messages(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    good = tmp_path / "good"
    good.write_text("s-1 a\n")
    with pytest.raises(DataError, match=r"empty: empty file"):
        score_files(good, empty)
    with pytest.raises(DataError, match="no such file"):
        score_files(good, tmp_path / "nope")
    other = tmp_path / "other"
    other.write_text("t-9 a\n")
    with pytest.raises(DataError, match="no utterance id in common"):
        score_files(good, other)
    dup = tmp_path / "dup"
    dup.write_text("a (s-1)\nb (s-1)\n")
    with pytest.raises(DataError, match=r"dup:2: duplicate"):
        score_files(dup, good)


# ---- normalisation, speakers --------------------------------------------------------------------------------

def test_normalisation_is_applied_and_recorded(tmp_path):
    ref, hyp = _files(tmp_path, {"s-1": "Hello, World! <sil> don't"}, {"s-1": "hello world uh <unk> don't"})
    assert score_files(ref, hyp, normalization=Normalization.none()).word.errors == 4  # 3 sub, 1 ins
    norm = Normalization.make(case="lower", remove_punct=True, drop=["<sil>", "<unk>"], drop_hesitations=True)
    r = write_report(ref, hyp, tmp_path / "out", normalization=norm, html=False, bootstrap_samples=10)
    assert r.kaldi_lines()[0] == "%WER 0.00 [ 0 / 3, 0 ins, 0 del, 0 sub ]"
    recorded = json.loads((tmp_path / "out" / "report.json").read_text())["normalization"]
    assert recorded["case"] == "lower" and recorded["remove_punct"] and "<unk>" in recorded["drop"]
    assert "uh" in recorded["hesitations"]


def test_speakers_from_utt2spk_or_id_prefix(tmp_path):
    assert [speaker_of(u) for u in ("ab-cd_1", "ab_cd-2", "zz_1", "plain")] == ["ab", "ab_cd", "zz", "plain"]
    ref, hyp = _files(tmp_path, {"u1": "a b", "u2": "c"}, {"u1": "a", "u2": "c"})
    u2s = tmp_path / "utt2spk"
    u2s.write_text("u1 alice\nu2 bob\n")
    r = score_files(ref, hyp, utt2spk=u2s)
    per = r.per_speaker()
    assert per["alice"]["word"].dels == 1 and per["bob"]["word"].errors == 0
    u2s.write_text("u1 alice\n")
    with pytest.raises(DataError, match="no speaker"):
        score_files(ref, hyp, utt2spk=u2s)


# ---- bootstrap and comparison -------------------------------------------------------------------------------

def test_bootstrap_interval_and_paired_probability():
    rng = random.Random(3)
    errors = [rng.randint(0, 3) for _ in range(200)]
    words = [rng.randint(3, 10) for _ in range(200)]
    wer = 100.0 * sum(errors) / sum(words)
    b = bootstrap_wer(errors, words, samples=2000, seed=0)
    assert b.low < wer < b.high and 0 < b.half_width < 10
    assert bootstrap_wer(errors, words, samples=2000, seed=0) == b
    assert paired_bootstrap(errors, errors, samples=500) == 0.0
    assert paired_bootstrap(errors, [max(e - 1, 0) for e in errors], samples=500) == 1.0
    assert paired_bootstrap([max(e - 1, 0) for e in errors], errors, samples=500) == 0.0


def _two_systems(tmp_path):
    pairs = yesno_pairs() or synthetic_pairs()
    ref = {u: r for u, (r, _) in pairs.items()}
    rng = random.Random(5)
    good = {}
    for u, (r, h) in pairs.items():  # system B: fixes most of A's errors
        good[u] = r if rng.random() < 0.8 else h
    ref_p = write_text(tmp_path / "ref", ref)
    a = write_text(tmp_path / "hyp_a", {u: h for u, (_, h) in pairs.items()})
    b = write_text(tmp_path / "hyp_b", good)
    return ref_p, a, b


def test_compare_two_systems(tmp_path):
    ref, a, b = _two_systems(tmp_path)
    ra = write_report(ref, a, tmp_path / "A", html=False, bootstrap_samples=10)
    rb = write_report(ref, b, tmp_path / "B", html=False, bootstrap_samples=10)
    assert rb.word.errors < ra.word.errors
    c = compare_inputs([tmp_path / "A" / "report.json", tmp_path / "B" / "report.json"], out_dir=tmp_path / "cmp",
                       samples=1000)
    assert c.p_b_better > 0.9
    reverse = compare_inputs([tmp_path / "B" / "report.json", tmp_path / "A" / "report.json"], samples=1000)
    assert reverse.p_b_better < 0.1
    text = c.text()
    assert "Probability of Set2 improving Set1" in text and "Per speaker" in text
    assert {r["spk"] for r in c.speakers()} == {u.spk for u in ra.utts}
    assert (tmp_path / "cmp" / "compare.html").stat().st_size > 1000
    with pytest.raises(DataError, match="not a report.json"):
        compare_inputs([ref, a])


def test_report_pages_escape_what_they_show(tmp_path):
    """Words, ids, names and paths reach report.html and compare.html escaped (the templates escape every value)."""
    ref = write_text(tmp_path / "ref", {"s-1": "<b>bold</b> & it's", "s-2": "a"})
    hyp = write_text(tmp_path / "h<1>.text", {"s-1": "<i>x</i>", "s-2": "a"})
    write_report(ref, hyp, tmp_path / "out", name="<script>alert(1)</script>", bootstrap_samples=10)
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "h&lt;1&gt;.text" in page and "&amp;" in page
    assert not any(tag in page for tag in ("<b>", "<i>", "<script>alert", "h<1>"))
    compare_inputs([ref, hyp, ref], out_dir=tmp_path / "cmp", samples=10)
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "A: h&lt;1&gt;.text (" in page and "h<1>" not in page


# ---- the commands -------------------------------------------------------------------------------------------

def test_cli_score_prints_kaldi_lines_and_writes_report(tmp_path):
    ref, hyp = _files(tmp_path, {"s-1": "a b c", "s-2": "d"}, {"s-1": "a c", "s-2": "d e"})
    res = runner.invoke(app, ["score", str(ref), str(hyp)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "%WER 50.00 [ 2 / 4, 1 ins, 1 del, 0 sub ]"
    assert lines[1].startswith("%CER ") and lines[2] == "%SER 100.00 [ 2 / 2 ]"
    out = tmp_path / "out"
    res = runner.invoke(app, ["score", str(ref), str(hyp), "--out", str(out)])
    assert res.exit_code == 0, res.output
    for name in ("wer", "per_utt", "per_spk", "ops", "pralign", "results.md", "report.json", "report.html"):
        assert (out / name).stat().st_size > 0, name
    assert res.stdout.splitlines()[-1] == f"report: {out / 'report.html'}"
    assert (out / "wer").read_text().splitlines()[0] == lines[0]
    assert "s-1 #csid 2 0 0 1" in (out / "per_utt").read_text()


def test_cli_score_errors_are_one_line(tmp_path):
    empty = tmp_path / "hyp"
    empty.write_text("")
    ref = write_text(tmp_path / "ref", {"s-1": "a"})
    res = runner.invoke(app, ["score", str(ref), str(empty)])
    assert res.exit_code == 1
    assert res.output.strip() == f"asr: error: {empty}: empty file (no utterances)"


def test_cli_compare(tmp_path):
    ref, a, b = _two_systems(tmp_path)
    res = runner.invoke(app, ["compare", str(ref), str(a), str(b), "--samples", "500"])
    assert res.exit_code == 0, res.output
    m = [ln for ln in res.stdout.splitlines() if ln.startswith("Probability of Set2 improving Set1:")]
    assert m and float(m[0].split(":")[1].split("%")[0]) > 90
    assert "Per speaker" in res.stdout


def test_compare_labels_tell_the_systems_apart(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert distinct_labels(["x/sc/hyp", "y/sc/hyp"]) == ["x/sc/hyp", "y/sc/hyp"]
    assert distinct_labels(["sc/hyp_a", "sc/hyp_b"]) == ["hyp_a", "hyp_b"]
    assert distinct_labels(["hyp", "./hyp"]) == ["hyp", "./hyp"]
    write_text(tmp_path / "ref", {"s-1": "a b c", "s-2": "d e"})
    for sys, hyp in (("x", {"s-1": "a x c", "s-2": "d e"}), ("y", {"s-1": "a b c", "s-2": "d"})):
        (tmp_path / sys / "sc").mkdir(parents=True)
        write_text(tmp_path / sys / "sc" / "hyp.txt", hyp)
    res = runner.invoke(app, ["compare", "ref", "x/sc/hyp.txt", "y/sc/hyp.txt", "--samples", "50"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == ["A: x/sc/hyp.txt  %WER 20.00 [ 1 / 5 ]", "B: y/sc/hyp.txt  %WER 20.00 [ 1 / 5 ]"]
    write_text(tmp_path / "x" / "sc" / "hyp2.txt", {"s-1": "a b c", "s-2": "d e"})
    for out, hyp in (("A", "x/sc/hyp.txt"), ("B", "x/sc/hyp2.txt")):  # both named `sc`, after their folder
        assert runner.invoke(app, ["score", "ref", hyp, "--out", out]).exit_code == 0
    res = runner.invoke(app, ["compare", "A/report.json", "B/report.json", "--samples", "50"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[:2] == ["A: hyp.txt (A/report.json)  %WER 20.00 [ 1 / 5 ]",
                                           "B: hyp2.txt (B/report.json)  %WER 0.00 [ 0 / 5 ]"]


@pytest.mark.parametrize("other,what", [({"s-1": "a b d", "s-2": "d e"}, "(both 3 words, word 3 is 'c' vs 'd')"),
                                        ({"s-1": "a b", "s-2": "d e"}, "(3 vs 2 words)")])
def test_compare_says_how_the_references_differ(tmp_path, other, what):
    hyp = write_text(tmp_path / "hyp", {"s-1": "a b c", "s-2": "d e"})
    for name, ref in (("A", {"s-1": "a b c", "s-2": "d e"}), ("B", other)):
        write_report(write_text(tmp_path / f"ref{name}", ref), hyp, tmp_path / name, html=False, bootstrap_samples=10)
    res = runner.invoke(app, ["compare", str(tmp_path / "A" / "report.json"), str(tmp_path / "B" / "report.json")])
    assert res.exit_code == 1 and len(res.output.splitlines()) == 1
    assert f"utterance 's-1' has different references {what}" in res.output
