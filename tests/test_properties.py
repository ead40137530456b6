"""Property tests (hypothesis): Kaldi table parsing, text normalisation and tokens, scoring, the audio loader."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asr.audio import read_audio
from asr.data.kaldi_files import Entry, read_entries, read_table, write_table
from asr.errors import AudioError, DataError
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
