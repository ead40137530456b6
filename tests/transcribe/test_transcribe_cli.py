"""`asr transcribe` as a user meets it: mixed folders, stdin, wav.scp, lists, bad files, output formats.
A tiny random model does the recognising: the words are arbitrary, the plumbing is what is checked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr.cli import app
from helpers.transcribe import make_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("model") / "exp")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """8 kHz stereo FLAC, 44.1 kHz WAV, 16 kHz OGG, plus a zero-byte file and a text file."""
    d = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(8000 * 2)
    sf.write(d / "a_stereo8k.flac", np.stack([x, 0.5 * x], axis=1), 8000)
    sf.write(d / "b_44k.wav", 0.1 * rng.standard_normal(44100 * 2), 44100)
    sf.write(d / "c_16k.ogg", 0.1 * rng.standard_normal(16000 * 2), 16000, format="OGG", subtype="VORBIS")
    (d / "d_empty.wav").write_bytes(b"")
    (d / "e_notes.txt").write_text("this is not audio\n")
    return d


def run(*args, input=None):
    return CliRunner().invoke(app, ["transcribe", *map(str, args), "--device", "cpu", "--threads", "1"],
                              input=input)


def test_mixed_folder_transcribes_good_files_and_names_bad_ones(model_dir, mixed):
    result = run(model_dir, mixed)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(mixed / n) for n in
                                                      ("a_stereo8k.flac", "b_44k.wav", "c_16k.ogg")]
    errors = result.stderr.splitlines()  # notes.txt is skipped (not audio by name), the empty .wav named
    assert errors == [f"asr: {mixed}: skipped 1 file that is not audio by name (e_notes.txt)",
                      f"asr: error: {mixed / 'd_empty.wav'}: empty audio file"]
    named = run(model_dir, mixed / "e_notes.txt")  # a file named explicitly is read whatever its name
    assert named.stderr.startswith(f"asr: error: {mixed / 'e_notes.txt'}: cannot decode audio")


def test_default_output_is_file_tab_text_and_exit_zero(model_dir, mixed):
    wav = mixed / "b_44k.wav"
    result = run(model_dir, wav)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1 and result.stdout.startswith(f"{wav}\t")


def test_stdin_wav_scp_and_list(model_dir, mixed, tmp_path):
    flac = mixed / "a_stereo8k.flac"
    expected = run(model_dir, flac).stdout.split("\t", 1)[1]
    from_stdin = run(model_dir, "-", input=flac.read_bytes())
    assert from_stdin.exit_code == 0 and from_stdin.stdout == f"-\t{expected}"
    scp = tmp_path / "wav.scp"
    scp.write_text(f"utt1 {flac}\nutt2 cat {flac} |\n")
    from_scp = run(model_dir, scp)
    assert from_scp.exit_code == 0 and from_scp.stdout == f"utt1\t{expected}utt2\t{expected}"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.flac").write_bytes(flac.read_bytes())
    listing = tmp_path / "files.list"
    listing.write_text("# one path per line, relative to this list\nsub/x.flac\n\nsub/missing.wav\n")
    from_list = run(model_dir, listing)
    assert from_list.exit_code == 1
    assert from_list.stdout == f"{tmp_path / 'sub' / 'x.flac'}\t{expected}"
    assert from_list.stderr.strip() == f"asr: error: {listing}:4: {tmp_path / 'sub' / 'missing.wav'}: no such audio file"
    bad_scp = tmp_path / "bad.scp"
    bad_scp.write_text("utt1 a.wav\n\n")
    result = run(model_dir, bad_scp)
    assert result.exit_code == 1 and f"{bad_scp}:2: empty line" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "ctm", "srt", "vtt"])
def test_formats_on_stdout(model_dir, mixed, fmt):
    wav = mixed / "c_16k.ogg"
    result = run(model_dir, wav, "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "json":
        d = json.loads(out)
        assert d["audio"] == str(wav) and d["duration"] == pytest.approx(2.0, abs=0.01)
        assert all(set(w) == {"word", "start", "end", "confidence"} for w in d["words"])
        assert all(0 <= w["start"] <= w["end"] <= 2.0 for w in d["words"])
    elif fmt == "ctm":
        assert all(line.split()[:2] == [str(wav), "1"] and len(line.split()) == 6 for line in out.splitlines())
    elif fmt == "vtt":
        assert out.startswith("WEBVTT\n")
    else:
        assert out == "" or out.startswith("1\n")


def test_output_dir_gets_one_file_per_recording_and_format(model_dir, mixed, tmp_path):
    out = tmp_path / "out"
    result = run(model_dir, mixed / "a_stereo8k.flac", mixed / "b_44k.wav", "-f", "json,srt,vtt,ctm,text", "-o", out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{s}.{e}" for s in ("a_stereo8k", "b_44k") for e in ("json", "srt", "vtt", "ctm", "txt"))
    assert json.loads((out / "b_44k.json").read_text())["audio"] == str(mixed / "b_44k.wav")
    assert len(result.stdout.splitlines()) == 2


def test_per_file_formats_need_output_dir_for_many_recordings(model_dir, mixed):
    result = run(model_dir, mixed / "a_stereo8k.flac", mixed / "b_44k.wav", "--format", "srt")
    assert result.exit_code == 1 and "--output-dir" in result.stderr
    result = run(model_dir, mixed / "b_44k.wav", "--format", "srt,json")
    assert result.exit_code == 1 and "--output-dir" in result.stderr
    result = run(model_dir, mixed / "b_44k.wav", "--format", "docx")
    assert result.exit_code == 1 and "choose from text, json, ctm, srt, vtt" in result.stderr


def test_verbose_prints_the_real_time_factor(model_dir, mixed):
    result = run(model_dir, mixed / "b_44k.wav", mixed / "c_16k.ogg", "--verbose", "--batch-size", "1")
    assert result.exit_code == 0
    assert result.stderr.count("RTF") == 3  # each recording, then the total
    assert "2 transcribed, 0 failed" in result.stderr


def test_long_audio_options_and_decoder_choice(model_dir, mixed, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, 0.1 * np.random.default_rng(1).standard_normal(8000 * 20), 8000)
    chunked = run(model_dir, long, "--chunk", "4", "--overlap", "1.5", "-f", "json")
    assert chunked.exit_code == 0 and json.loads(chunked.stdout)["duration"] == pytest.approx(20.0)
    bad = run(model_dir, long, "--chunk", "2", "--overlap", "1.5")
    assert bad.exit_code == 1 and "twice the overlap" in bad.stderr
    unknown = run(model_dir, long, "--decoder", "viterbi")
    assert unknown.exit_code == 1 and "unknown decoder 'viterbi'" in unknown.stderr


def test_beam_and_lm_decoders_from_the_command_line(model_dir, mixed, tmp_path):
    wav = mixed / "b_44k.wav"
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("YES Y E S\nNO N O\n")
    beam = run(model_dir, wav, "--decoder", "beam", "--beam-size", "4", "-f", "json")
    assert beam.exit_code == 0, beam.output
    lm = run(model_dir, wav, "--decoder", "lm", "--lexicon", lexicon, "-f", "json")
    assert lm.exit_code == 0, lm.output
    assert {w["word"] for w in json.loads(lm.stdout)["words"]} <= {"YES", "NO"}
    missing = run(model_dir, wav, "--decoder", "lm")
    assert missing.exit_code == 1 and "--decoder lm needs --lm" in missing.stderr


def test_decode_and_transcribe_share_the_decoder_options():
    import typer.main

    from asr.cli import DECODER_OPTIONS

    commands = typer.main.get_command(app).commands

    def options(name):
        return {p.name: (p.opts, p.default) for p in commands[name].params if p.name in DECODER_OPTIONS}

    assert options("decode") == options("transcribe") and len(options("decode")) == 12
    assert options("decode")["lm_weight"] == (["--lm-weight"], None)
