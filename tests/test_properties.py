"""Property tests (hypothesis): Kaldi table parsing, the `asr data` readers, text normalisation and tokens, scoring,
the audio loader."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asr.audio import read_audio
from asr.data.fix import fix_and_report
from asr.data.info import data_dir_info
from asr.data.kaldi_files import Entry, read_entries, read_table, write_table
from asr.data.subset import split_data_dir, subset_data_dir
from asr.data.validate import validate_data_dir
from asr.errors import AsrError, AudioError, DataError
from asr.scoring.align import align, align_sclite, count_errors, ops_counts
from asr.scoring.normalize import Normalization
from asr.scoring.report import kaldi_percent
from asr.text.tokenizer import CharTokenizer

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Kaldi keys: no white space; values: one line, no leading/trailing white space
keys = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=12)
values = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30).map(
    lambda v: " ".join(v.split()))
tables = st.dictionaries(keys, values, max_size=20)
words = st.lists(st.sampled_from(["yes", "no", "a", "the", "cat", "Dog", "UH", "<sil>", "x-ray", "don't"]),
                 max_size=12)


def tmp_file(data: bytes) -> Path:
    f = tempfile.NamedTemporaryFile(delete=False, suffix=".bin")
    f.write(data)
    f.close()
    return Path(f.name)


# ---- data-dir parsing -------------------------------------------------------------------------------------


@SETTINGS
@given(tables)
def test_table_round_trip(table):
    path = tmp_file(b"")
    write_table(path, table)
    assert read_table(path) == table
    assert [e.key for e in read_entries(path)] == sorted(table)  # written in C order
    path.unlink()


@SETTINGS
@given(st.binary(max_size=300))
def test_table_reader_on_any_bytes_raises_only_data_error_naming_the_line(data):
    path = tmp_file(data)
    try:
        entries = read_entries(path)
    except DataError as e:
        assert str(e).startswith(f"{path}:")
    else:
        assert all(e.key and not any(c in " \t\r\f\v\n" for c in e.key) for e in entries)
    skipped: list[Entry] = []
    kept = read_entries(path, skipped)  # tolerant: never raises, every line accounted for
    assert len(kept) + len(skipped) == data.count(b"\n") + (not data.endswith(b"\n") and len(data) > 0)
    path.unlink()


# Data-dir files: random bytes, or a valid dir's lines with one fault planted per file (reaching the checks)
FAULTS = ["none", "swap", "duplicate", "delete", "extra field", "no value", "bom", "latin-1", "garbage", "no file"]


@st.composite
def data_dirs(draw) -> dict[str, bytes]:
    utts = sorted(draw(st.sets(st.tuples(st.sampled_from(["s1", "s2"]), st.integers(1, 3)), max_size=5)))
    ids = [f"{s}-u{i}" for s, i in utts]
    lines = {"utt2spk": [f"{u} {s}" for u, (s, _) in zip(ids, utts)], "text": [f"{u} yes no" for u in ids],
             "spk2utt": [f"{s} " + " ".join(u for u in ids if u.startswith(s)) for s in sorted({s for s, _ in utts})]}
    if draw(st.booleans()):
        lines |= {"wav.scp": ["r1 cmd |"], "segments": [f"{u} r1 {k}.0 {k}.5" for k, u in enumerate(ids)]}
    else:
        lines["wav.scp"] = [f"{u} cmd |" for u in ids]
    files = {}
    for name, content in lines.items():
        fault, i = draw(st.sampled_from(FAULTS)), draw(st.integers(0, 5))
        if fault == "no file":
            continue
        if content and fault != "none":
            i %= len(content)
            if fault == "swap":
                content[i], content[-1] = content[-1], content[i]
            elif fault in ("duplicate", "delete", "extra field", "no value"):
                content[i:i + 1] = {"duplicate": [content[i]] * 2, "delete": [], "no value": [content[i].split()[0]],
                                    "extra field": [content[i] + " x"]}[fault]
        data = "".join(f"{line}\n" for line in content).encode()
        files[name] = {"bom": b"\xef\xbb\xbf" + data, "latin-1": data.replace(b"yes", b"y\xe9s"),
                       "garbage": data + draw(st.binary(max_size=40))}.get(fault, data)
    return files


any_data_dirs = st.one_of(data_dirs(), st.dictionaries(st.sampled_from(["text", "utt2spk", "spk2utt", "wav.scp",
                                                                       "segments"]), st.binary(max_size=120)))


@settings(max_examples=200, deadline=None)
@given(any_data_dirs)
def test_data_readers_on_any_files_give_a_result_or_an_asr_error(files):
    root = Path(tempfile.mkdtemp())
    d = root / "data"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    try:
        assert all(f.file.parent == d for f in validate_data_dir(d))
        for read in (lambda: data_dir_info(d), lambda: subset_data_dir(d, root / "sub", 1, how="first"),
                     lambda: split_data_dir(d, 2), lambda: split_data_dir(d, 1, per_utt=True)):
            try:
                read()
            except AsrError as e:
                assert "\n" not in str(e)
        try:
            report, _ = fix_and_report(d)
        except AsrError:
            return
        assert report.kept + sum(report.dropped.values()) == report.total
        left = [f for f in validate_data_dir(d, need_text=False) if "not sorted by speaker" not in f.message]
        assert left == []  # the one fault fix cannot repair: speaker ids that are not prefixes
        assert "no file changed" in str(fix_and_report(d)[0])  # fixing a fixed dir changes nothing
    finally:
        shutil.rmtree(root)


# ---- text normalisation, tokens ---------------------------------------------------------------------------


@SETTINGS
@given(words, st.sampled_from(["keep", "lower", "upper"]), st.booleans(), st.booleans())
def test_normalisation_is_idempotent_and_keeps_no_dropped_token(ws, case, punct, hes):
    norm = Normalization.make(case=case, remove_punct=punct, drop_hesitations=hes)
    once = norm.words(" ".join(ws))
    assert norm.words(" ".join(once)) == once
    assert "<sil>" not in once and (not hes or "UH" not in once and "uh" not in once)
    if case == "lower":
        assert all(w == w.lower() for w in once)
    assert len(once) <= len(ws)


@SETTINGS
@given(st.lists(st.text(st.sampled_from("abcxyzé'"), min_size=1, max_size=6), max_size=8))
def test_tokens_decode_what_they_encode(ws):
    text = " ".join(ws)
    tok = CharTokenizer.build([text, "a"])
    ids = tok.encode(text)
    assert tok.decode(ids) == text and 0 not in ids and 1 not in ids


# ---- scoring ----------------------------------------------------------------------------------------------


@SETTINGS
@given(words)
def test_identical_text_scores_zero(ref):
    c = count_errors(ref, ref)
    assert (c.errors, c.correct, c.ref_len) == (0, len(ref), len(ref))
    assert ops_counts(align_sclite(ref, ref)).errors == 0


@SETTINGS
@given(words.filter(bool))
def test_empty_hypothesis_is_100_percent(ref):
    c = count_errors(ref, [])
    assert (c.dels, c.sub, c.ins) == (len(ref), 0, 0)
    assert kaldi_percent(c.errors, c.ref_len) == 100.0
    assert ops_counts(align_sclite(ref, [])).dels == len(ref)


@SETTINGS
@given(words, words)
def test_counts_add_up(ref, hyp):
    for ops in (align(ref, hyp), align_sclite(ref, hyp)):
        c = ops_counts(ops)
        assert c.correct + c.sub + c.dels == len(ref)
        assert c.correct + c.sub + c.ins == len(hyp)
        assert [o.ref for o in ops if o.ref is not None] == ref and [o.hyp for o in ops if o.hyp is not None] == hyp
    c = count_errors(ref, hyp)
    assert c == ops_counts(align(ref, hyp))
    assert max(len(ref), len(hyp)) >= c.errors >= abs(len(ref) - len(hyp))


# ---- the audio loader -------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400),
                 st.binary(max_size=200).map(lambda b: b"RIFF\x24\x08\x00\x00WAVEfmt " + b),
                 st.binary(max_size=200).map(lambda b: b"fLaC" + b),
                 st.binary(max_size=200).map(lambda b: b"OggS" + b)))
def test_audio_loader_on_random_bytes_raises_only_audio_error(data):
    path = tmp_file(data)
    try:
        samples, sr = read_audio(str(path))
    except AudioError as e:
        assert str(path) in str(e) and e.reason
    else:  # whatever decodes must be sane audio
        assert samples.ndim == 2 and samples.shape[0] > 0 and sr > 0 and np.isfinite(samples).all()
    finally:
        path.unlink()


def test_audio_loader_reasons(tmp_path):
    """Each kind of bad file gets its own reason (as the screening reports list them)."""
    import soundfile as sf

    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(8000, dtype=np.float32) + 0.1, 8000)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "truncated.wav").write_bytes(good.read_bytes()[:5000])
    (tmp_path / "text.wav").write_text("hello")
    nan = np.zeros(100, dtype=np.float32)
    nan[5] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 8000, subtype="FLOAT")
    expected = {"missing.wav": "missing file", "empty.wav": "empty file", "truncated.wav": "truncated file",
                "text.wav": "not audio", "nan.wav": "NaN samples"}
    for name, reason in expected.items():
        with pytest.raises(AudioError) as e:
            read_audio(str(tmp_path / name))
        assert e.value.reason == reason and name in str(e.value)
    assert read_audio(str(good))[0].shape == (8000, 1)
