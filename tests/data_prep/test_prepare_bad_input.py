"""Bad input never stops `asr prepare`: each kind is listed in log/prepare_report.txt as `file:line: reason`, the
rest is prepared, one summary line is printed; `--strict` stops at the first with exit 1 and one error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr.cli import app
from asr.data.validate import validate_data_dir
from asr.errors import DataError
from data_prep import folder, manifest
from data_prep.manifest import Columns
from data_prep.report import read_problems
from helpers.cli_errors import one_line_error
from helpers.user_corpora import fsdd_clip, write_audio, write_table


def texts(d: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in (d / "text").read_text().splitlines())


@pytest.fixture
def audio(tmp_path) -> Path:
    """good0.wav good1.mp3 (16/48 kHz), notaudio.wav (text), broken.mp3 (bytes), truncated.wav (cut short)."""
    root = tmp_path / "c"
    write_audio(root / "good0.wav", fsdd_clip(0), 16000)
    write_audio(root / "good1.mp3", fsdd_clip(1), 48000)
    (root / "notaudio.wav").write_text("this is not audio\n")
    (root / "broken.mp3").write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 8)
    write_audio(root / "full.wav", fsdd_clip(2), 16000)
    data = (root / "full.wav").read_bytes()
    (root / "truncated.wav").write_bytes(data[: len(data) // 2])
    return root


def test_manifest_rows_each_listed_with_file_line_and_reason(tmp_path, audio):
    m = audio / "list.csv"
    rows = [["good0.wav", "zero", "s1", "0.6"],  # line 2: fine (duration within tolerance)
            ["missing.wav", "one", "s1", ""],  # 3
            ["notaudio.wav", "two", "s1", ""],  # 4
            ["broken.mp3", "three", "s1", ""],  # 5
            ["truncated.wav", "four", "s1", ""],  # 6
            ["good1.mp3", "?!", "s2", ""],  # 7: empty after normalisation
            ["good1.mp3", "one", "s2", "abc"],  # 8: wrong value type
            ["good1.mp3", "one", "s2", "9.5"],  # 9: duration disagrees
            ["good1.mp3", "one", "s2", ""],  # 10: fine
            ["good1.mp3", "one again", "s2", ""]]  # 11: duplicate id
    write_table(m, ["path", "text", "speaker", "duration"], rows, ",")
    d0 = len(fsdd_clip(0)) / 8000
    rows[0][3] = f"{d0 + 0.05:.3f}"
    write_table(m, ["path", "text", "speaker", "duration"], rows, ",")
    with open(m, "ab") as f:
        f.write(b"good0.wav,caf\xe9,s1,\n")  # 12: latin-1, not UTF-8
        f.write(b"good0.wav,too,many,fields,here\n")  # 13: malformed
    out = tmp_path / "data"
    r = CliRunner().invoke(app, ["prepare", "manifest", str(m), str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count("\n") == 1 and "kept 2 utterances, dropped 10" in r.output
    assert texts(out) == {"s1-good0": "ZERO", "s2-good1": "ONE"} and validate_data_dir(out) == []
    problems = read_problems(out)
    expect = [(3, "missing audio: ", "missing.wav: no such audio file"),
              (4, "audio does not decode: ", "notaudio.wav: cannot decode audio"),
              (5, "audio does not decode: ", "broken.mp3: cannot decode audio: no audio stream that libsndfile can"),
              (6, "truncated audio: ", "truncated.wav: truncated file: its header promises"),
              (7, "empty transcript: '?!'", ""),
              (8, "wrong value type: duration 'abc' is not a number", ""),
              (9, "duration disagrees with audio: declared 9.5 s, ", "good1.mp3 is 0."),
              (11, "duplicate id: 's2-good1' was already given at ", f"{m}:10"),
              (12, "not UTF-8: byte 0xE9 at column 14", ""),
              (13, "malformed line: 5 fields, the header has 4", "")]
    assert len(problems) == len(expect)
    for p, (line, reason, detail) in zip(problems, expect):  # in line order
        assert p.startswith(f"{m}:{line}: {reason}") and detail in p, p
    header = (out / "log" / "prepare_report.txt").read_text().splitlines()[0]
    assert header.startswith(f"# prepare {m} -> {out}: kept 2 utterances, dropped 10: 2 audio does not decode")


def test_strict_stops_at_the_first_problem(tmp_path, audio):
    m = audio / "list.tsv"
    write_table(m, ["path", "text"], [["good0.wav", "zero"], ["missing.wav", "one"]], "\t")
    r = CliRunner().invoke(app, ["prepare", "manifest", str(m), str(tmp_path / "data"), "--strict"])
    msg = one_line_error(r)
    assert msg.startswith(f"{m}:3: missing audio: ") and msg.endswith("(--strict)")
    assert not (tmp_path / "data" / "text").exists()


def test_json_lines_name_the_byte_offset_and_parser_message(tmp_path, audio):
    m = audio / "m.jsonl"
    good = json.dumps({"audio_filepath": "good0.wav", "text": "zero"})
    lines = [good, '{"audio_filepath": "good1.mp3" "text": "one"}', "[1, 2]",
             json.dumps({"audio_filepath": "good1.mp3", "text": ["one"]}),
             json.dumps({"audio_filepath": "good1.mp3"}), json.dumps({"audio_filepath": "good1.mp3", "text": ""})]
    m.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "data"
    report = manifest.prepare(m, out)
    assert texts(out) == {"good0": "ZERO"}
    offset = len(good) + 1 + len('{"audio_filepath": "good1.mp3" ')
    assert [str(p) for p in report.problems] == [
        f"{m}:2: invalid JSON: byte {offset}: Expecting ',' delimiter (column {offset - len(good)})",
        f"{m}:3: malformed line: expected a JSON object, found list",
        f"{m}:4: wrong value type: text is list, expected a string",
        f"{m}:5: missing column: no text column (one of text, transcript, sentence, transcription, normalized_text, "
        "utterance; or --text-column); columns: audio_filepath",
        f"{m}:6: empty transcript"]
    assert read_problems(out) == [str(p) for p in report.problems]


def test_wrong_or_missing_column_names_the_header_line(tmp_path, audio):
    m = audio / "m.csv"
    write_table(m, ["wav", "words"], [["good0.wav", "zero"]], ",")
    with pytest.raises(DataError, match="no utterance could be prepared"):
        manifest.prepare(m, tmp_path / "d1")
    assert read_problems(tmp_path / "d1") == [
        f"{m}:1: missing column: no text column (one of text, transcript, sentence, transcription, normalized_text, "
        "utterance; or --text-column); columns: wav, words"]
    r = CliRunner().invoke(app, ["prepare", "manifest", str(m), str(tmp_path / "d2"), "--text-column", "transcript"])
    assert one_line_error(r) == (f"{m}: no utterance could be prepared; the reasons are in "
                                 f"{tmp_path / 'd2' / 'log' / 'prepare_report.txt'}")
    assert read_problems(tmp_path / "d2") == [
        f"{m}:1: missing column: no column 'transcript' (given by --text-column); columns: wav, words"]
    manifest.prepare(m, tmp_path / "d3", columns=Columns(text="words"))
    assert texts(tmp_path / "d3") == {"good0": "ZERO"}


def test_folder_problems(tmp_path, audio):
    (audio / "good0.txt").write_text("zero")
    (audio / "good1.txt").write_bytes(b"\n  one na\xefve\n")  # not UTF-8, on line 2
    (audio / "notaudio.txt").write_text("two")
    (audio / "truncated.txt").write_text("   ")  # empty
    (audio / "orphan.lab").write_text("no audio for me")
    report = folder.prepare(audio, tmp_path / "data")
    assert texts(tmp_path / "data") == {"good0": "ZERO"}
    got = sorted(str(p) for p in report.problems)
    assert got == sorted([
        f"{audio}/broken.mp3: no transcript: expected broken.txt or .lab beside it",
        f"{audio}/full.wav: no transcript: expected full.txt or .lab beside it",
        f"{audio}/good1.txt:2: not UTF-8: byte 0xEF at column 9",
        f"{audio}/notaudio.txt:1: audio does not decode: {audio.resolve()}/notaudio.wav: cannot decode audio: "
        + got[3].split("cannot decode audio: ", 1)[-1],
        f"{audio}/orphan.lab: no audio: a transcript with no audio file of the same name beside it",
        f"{audio}/truncated.txt:1: empty transcript"])
