"""Kaldi data directories: validate, fix, subset, split, info, and DataDir save/load."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr.cli import app
from asr.data.datadir import DataDir, Segment
from asr.data.fix import fix_data_dir
from asr.data.info import data_dir_info
from asr.data.kaldi_files import read_table, read_table_list
from asr.data.subset import split_data_dir, subset_data_dir
from asr.data.validate import assert_valid_data_dir, validate_data_dir
from asr.errors import DataError

runner = CliRunner()


def write_dir(d, files):
    """Write each `name: [lines]` into the directory `d`; returns `d`."""
    d.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (d / name).write_text("".join(f"{line}\n" for line in lines))
    return d


def make_wavs(tmp_path, names, seconds=1.0):
    """One short 16 kHz wav per name; returns the wav.scp lines."""
    (tmp_path / "wav").mkdir(exist_ok=True)
    lines = []
    for n in sorted(names):
        path = tmp_path / "wav" / f"{n}.wav"
        sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
        lines.append(f"{n} {path}")
    return lines


def good_dir(tmp_path, name="good", speakers=(("spkA", 3), ("spkB", 1), ("spkC", 2))):
    """A valid dir: one recording per utterance, with text, utt2dur, feats.scp and cmvn.scp."""
    utts = {f"{s}-{i}": s for s, n in speakers for i in range(1, n + 1)}
    spk2utt = [f"{s} " + " ".join(u for u in sorted(utts) if utts[u] == s) for s, _ in speakers]
    return write_dir(tmp_path / name, {
        "wav.scp": make_wavs(tmp_path, utts),
        "text": [f"{u} yes no {'yes ' * k}".strip() for k, u in enumerate(sorted(utts))],
        "utt2spk": [f"{u} {utts[u]}" for u in sorted(utts)],
        "spk2utt": spk2utt,
        "utt2dur": [f"{u} {1.0 + k / 10:.2f}" for k, u in enumerate(sorted(utts))],
        "feats.scp": [f"{u} feats.ark:{k * 100 + 9}" for k, u in enumerate(sorted(utts))],
        "cmvn.scp": [f"{s} cmvn.ark:{k * 50 + 5}" for k, (s, _) in enumerate(speakers)],
    })


def broken_dir(tmp_path):
    """The issue's case: `text` unsorted (line 2), a duplicate id (line 4), spkC-1 missing from utt2spk."""
    return write_dir(tmp_path / "broken", {
        "wav.scp": make_wavs(tmp_path, ["spkA-1", "spkA-2", "spkB-1", "spkB-2", "spkC-1"]),
        "text": ["spkA-2 yes no", "spkA-1 no no", "spkB-1 yes", "spkB-1 yes yes", "spkB-2 no", "spkC-1 yes no yes"],
        "utt2spk": ["spkA-1 spkA", "spkA-2 spkA", "spkB-1 spkB", "spkB-2 spkB"],
        "spk2utt": ["spkA spkA-1 spkA-2", "spkB spkB-1 spkB-2"],
    })


def test_issue_validate_fix_validate(tmp_path):
    d = broken_dir(tmp_path)
    expected = [f"{d / 'text'}:2: not sorted: 'spkA-1' after 'spkA-2' (line 1)",
                f"{d / 'text'}:4: duplicate key 'spkB-1' (first on line 3)",
                f"{d / 'text'}:6: utterance 'spkC-1' is not in utt2spk",
                f"{d / 'wav.scp'}:5: utterance 'spkC-1' is not in utt2spk"]
    assert sorted(map(str, validate_data_dir(d))) == sorted(expected)

    result = runner.invoke(app, ["data", "validate", str(d)])
    assert result.exit_code == 1
    assert all(line in result.output for line in expected)
    assert f"{d}: 4 faults" in result.output
    proc = subprocess.run([sys.executable, "-m", "asr.cli", "data", "validate", str(d)], capture_output=True, text=True)
    assert proc.returncode == 1 and all(line in proc.stdout for line in expected)

    original_text = (d / "text").read_text()
    result = runner.invoke(app, ["data", "fix", str(d)])
    assert result.exit_code == 0, result.output
    assert (f"fix {d}: kept 4 of 5 utterances, dropped 1: 1 not in utt2spk; removed 1 duplicate id line; "
            "dropped 1 recording left") in result.output  # the duplicated id is kept: not counted as dropped
    assert (d / ".backup" / "text").read_text() == original_text
    assert list(read_table(d / "text")) == ["spkA-1", "spkA-2", "spkB-1", "spkB-2"]
    assert read_table(d / "text")["spkB-1"] == "yes"  # the first of the duplicates is kept
    assert "spkC-1" not in read_table(d / "wav.scp")

    result = runner.invoke(app, ["data", "validate", str(d)])
    assert result.exit_code == 0 and f"{d}: OK, 4 utterances" in result.output
    assert "no file changed" in str(fix_data_dir(d))  # idempotent


def test_valid_dir_and_assert(tmp_path):
    d = good_dir(tmp_path)
    assert validate_data_dir(d) == []
    assert_valid_data_dir(d)
    (d / "text").unlink()
    assert validate_data_dir(d, need_text=False) == []
    with pytest.raises(DataError) as e:
        assert_valid_data_dir(d)
    assert str(e.value).splitlines()[1] == f"{d / 'text'}: required file is missing"
    assert runner.invoke(app, ["data", "validate", str(d), "--no-text"]).exit_code == 0


@pytest.mark.parametrize("name,lines,fault", [
    ("text", ["spkA-1 yes", "spkA-2", "spkA-3 no", "spkB-1 no", "spkC-1 a", "spkC-2 b"], "text:2: empty transcript"),
    ("utt2spk", ["spkA-1 spkA", "spkA-2 spkA", "spkA-3 spkC", "spkB-1 spkB", "spkC-1 spkC", "spkC-2 spkC"],
     "utt2spk:4: not sorted by speaker: 'spkB' after 'spkC'"),
    ("utt2spk", ["spkA-1 spkA x", "spkA-2 spkA", "spkA-3 spkA", "spkB-1 spkB", "spkC-1 spkC", "spkC-2 spkC"],
     "utt2spk:1: expected `utt speaker`"),
    ("spk2utt", ["spkA spkA-1 spkA-2", "spkB spkB-1", "spkC spkC-1 spkC-2"], "spk2utt:1: speaker 'spkA' misses"),
    ("cmvn.scp", ["spkA cmvn.ark:5", "spkB cmvn.ark:55"], "cmvn.scp: no entry for speaker 'spkC' (utt2spk line 5)"),
    ("utt2dur", ["spkA-1 1.0", "spkA-2 0", "spkA-3 1", "spkB-1 1", "spkC-1 1", "spkC-2 1"],
     "utt2dur:2: expected one positive number"),
    ("feats.scp", ["spkA-1 f:1", "spkA-2 f:2", "spkA-3 f:3", "spkB-1 f:4", "spkC-1 f:5", "spkC-2 f:6", "spkD-1 f:7"],
     "feats.scp:7: utterance 'spkD-1' is not in utt2spk"),
    ("text", ["spkA-1 yes", "", "spkA-3 no"], "text:2: empty line"),
])
def test_validate_faults(tmp_path, name, lines, fault):
    d = good_dir(tmp_path)
    write_dir(d, {name: lines})
    assert fault in "\n".join(map(str, validate_data_dir(d)))


def test_validate_wav_scp(tmp_path):
    d = good_dir(tmp_path)
    scp = (d / "wav.scp").read_text().splitlines()
    scp[1] = "spkA-2 no-such-command --flag |"  # pipes are not run
    scp[2] = f"spkA-3 {tmp_path / 'missing.wav'}"
    (tmp_path / "empty.wav").touch()
    scp[3] = f"spkB-1 {tmp_path / 'empty.wav'}"
    write_dir(d, {"wav.scp": scp})
    assert [str(f) for f in validate_data_dir(d)] == [f"{d / 'wav.scp'}:3: no such file: {tmp_path / 'missing.wav'}",
                                                      f"{d / 'wav.scp'}:4: empty file: {tmp_path / 'empty.wav'}"]


def segments_dir(tmp_path, segments):
    wav = make_wavs(tmp_path, ["rec1", "rec2"], seconds=2.0)
    utts = [line.split()[0] for line in segments]
    return write_dir(tmp_path / "seg", {
        "wav.scp": wav, "segments": segments, "reco2dur": ["rec1 2.0", "rec2 2.0"],
        "text": [f"{u} yes" for u in utts], "utt2spk": [f"{u} spk" for u in utts], "spk2utt": ["spk " + " ".join(utts)],
    })


def test_segments_checks(tmp_path):
    d = segments_dir(tmp_path, ["spk-1 rec1 0.00 1.00", "spk-2 rec1 1.00 -1", "spk-3 rec3 0.00 1.00",
                                "spk-4 rec2 -0.50 1.00", "spk-5 rec2 1.50 1.20", "spk-6 rec2 1.00 2.40",
                                "spk-7 rec2 1.00 2.60", "spk-8 rec2 2.00 2.10", "spk-9 rec2 0.5"])
    faults = {f.line: f.message for f in validate_data_dir(d)}
    assert sorted(faults) == [3, 4, 5, 7, 8, 9]  # 2.40 lies within Kaldi's 0.5 s overshoot
    assert "recording 'rec3' of 'spk-3' is not in wav.scp" == faults[3]
    assert "negative" in faults[4] and "not after start" in faults[5]
    assert "outside recording 'rec2'" in faults[7] and "outside" in faults[8]
    assert "expected `utt recording start end`" == faults[9]

    report = fix_data_dir(d)  # drops the malformed spk-4, spk-5, spk-9 and spk-3 (no recording)
    assert report.kept == 5 and report.dropped == {"bad line in segments": 3, "recording not in wav.scp": 1}
    assert list(read_table(d / "utt2spk")) == ["spk-1", "spk-2", "spk-6", "spk-7", "spk-8"]


def test_fix_drops_utterances_of_a_recording_without_audio(tmp_path):
    d = segments_dir(tmp_path, ["spk-1 rec1 0.00 1.00", "spk-2 rec2 0.00 1.00"])
    write_dir(d, {"wav.scp": ["rec1", (d / "wav.scp").read_text().splitlines()[1]]})
    report = fix_data_dir(d)
    assert report.dropped == {"bad line in wav.scp": 1} and list(read_table(d / "utt2spk")) == ["spk-2"]
    assert validate_data_dir(d) == []


def test_split_keeps_speakers_whole(tmp_path):
    d = good_dir(tmp_path)
    whole = read_table(d / "utt2spk")
    parts = split_data_dir(d, 2)
    assert parts == [d / "split2" / "1", d / "split2" / "2"]
    union = {}
    for part in parts:
        assert validate_data_dir(part) == []
        utt2spk = read_table(part / "utt2spk")
        assert not set(utt2spk) & set(union)
        union.update(utt2spk)
        assert set(read_table(part / "cmvn.scp")) == set(utt2spk.values())
        assert set(read_table(part / "feats.scp")) == set(read_table(part / "wav.scp")) == set(utt2spk)
    assert union == whole
    speaker_sets = [set(read_table(p / "utt2spk").values()) for p in parts]
    assert not speaker_sets[0] & speaker_sets[1]
    assert [len(read_table(p / "utt2spk")) for p in parts] == [3, 3]  # spkA | spkB+spkC

    stamp = (parts[0] / "text").stat().st_mtime_ns
    assert split_data_dir(d, 2) == parts and (parts[0] / "text").stat().st_mtime_ns == stamp  # reused
    os.utime(d / "text", ns=(stamp + 10**9, stamp + 10**9))
    split_data_dir(d, 2)
    assert (parts[0] / "text").stat().st_mtime_ns > stamp  # redone after the source changed
    (d / "feats.yaml").write_text("kind: fbank\n")  # a split without the features' options is out of date
    split_data_dir(d, 2)
    assert all((p / "feats.yaml").read_text() == "kind: fbank\n" for p in parts)

    per_utt = split_data_dir(d, 4, per_utt=True)
    assert per_utt[0].parent.name == "split4utt"
    assert sum(len(read_table(p / "utt2spk")) for p in per_utt) == 6
    with pytest.raises(DataError, match="cannot split 3 speakers into 4"):
        split_data_dir(d, 4)
    result = runner.invoke(app, ["data", "split", str(d), "3"])
    assert result.exit_code == 0
    assert [len(read_table(d / "split3" / str(i) / "utt2spk")) for i in (1, 2, 3)] == [3, 1, 2]


def test_split_segments_keeps_needed_recordings(tmp_path):
    d = segments_dir(tmp_path, ["a-1 rec1 0 1", "a-2 rec1 1 2", "b-1 rec2 0 1"])
    write_dir(d, {"utt2spk": ["a-1 a", "a-2 a", "b-1 b"], "spk2utt": ["a a-1 a-2", "b b-1"]})
    parts = split_data_dir(d, 2)
    assert [list(read_table(p / "wav.scp")) for p in parts] == [["rec1"], ["rec2"]]
    assert [list(read_table(p / "reco2dur")) for p in parts] == [["rec1"], ["rec2"]]
    assert all(validate_data_dir(p) == [] for p in parts)


def test_subset(tmp_path):
    d = good_dir(tmp_path)
    utts = list(read_table(d / "utt2spk"))
    out = tmp_path / "sub"
    assert subset_data_dir(d, out, 2, how="first") == 2 and list(read_table(out / "utt2spk")) == utts[:2]
    assert validate_data_dir(out) == []
    assert list(read_table(out / "cmvn.scp")) == ["spkA"]
    assert not (out / "feats.yaml").exists()
    (d / "feats.yaml").write_text("kind: fbank\n")  # how the features were made: it goes with feats.scp
    subset_data_dir(d, out, 2, how="last")
    assert (out / "feats.yaml").read_text() == "kind: fbank\n"
    assert list(read_table(out / "utt2spk")) == utts[-2:] and list(read_table(out / "cmvn.scp")) == ["spkC"]
    subset_data_dir(d, out, 2, how="shortest")
    assert list(read_table(out / "utt2spk")) == utts[:2]  # utt2dur grows with the index
    picks = []
    for _ in range(2):
        subset_data_dir(d, out, 3, seed=5)
        picks.append(list(read_table(out / "utt2spk")))
    assert picks[0] == picks[1] and len(picks[0]) == 3 and picks[0] == sorted(picks[0])
    (tmp_path / "spk.list").write_text("spkB\nspkC\n")
    subset_data_dir(d, out, spk_list=tmp_path / "spk.list")
    assert set(read_table(out / "utt2spk").values()) == {"spkB", "spkC"}
    (tmp_path / "utt.list").write_text("spkC-2\nspkA-1 extra fields\nnot-there\n")
    result = runner.invoke(app, ["data", "subset", str(d), str(out), "--utt-list", str(tmp_path / "utt.list")])
    assert result.exit_code == 0 and list(read_table(out / "utt2spk")) == ["spkA-1", "spkC-2"]
    with pytest.raises(DataError, match="cannot take 7 of its 6"):
        subset_data_dir(d, out, 7)
    assert runner.invoke(app, ["data", "subset", str(d), str(out), "--first", "2", "--last", "2"]).exit_code == 1


def test_datadir_save_load_round_trip(tmp_path):
    wav = dict(line.split() for line in make_wavs(tmp_path, ["rec1", "rec2"], seconds=3.0))
    dd = DataDir(wav_scp=wav, text={"s1-a": "yes no", "s1-b": "no", "s2-a": "yes yes"},
                 utt2spk={"s1-a": "s1", "s1-b": "s1", "s2-a": "s2"},
                 segments={"s1-a": Segment("rec1", 0.0, 1.25), "s1-b": Segment("rec1", 1.25, -1),
                           "s2-a": Segment("rec2", 0.5, 2.75)},
                 utt2dur={"s1-a": 1.25, "s1-b": 1.75, "s2-a": 2.25})
    path = dd.save(tmp_path / "rt")
    assert validate_data_dir(path) == []
    back = DataDir.load(path)
    for name in ("wav_scp", "text", "utt2spk", "segments", "utt2dur", "feats_scp", "cmvn_scp"):
        assert getattr(back, name) == getattr(dd, name), name
    assert read_table_list(path / "spk2utt") == back.spk2utt == {"s1": ["s1-a", "s1-b"], "s2": ["s2-a"]}
    assert [(u.utt_id, u.start_s, u.end_s) for u in back.utterances()] == [
        ("s1-a", 0.0, 1.25), ("s1-b", 1.25, None), ("s2-a", 0.5, 2.75)]


def test_info(tmp_path):
    d = good_dir(tmp_path)
    info = data_dir_info(d)
    assert (info.utterances, info.speakers, info.recordings) == (6, 3, 6)
    texts = read_table(d / "text").values()
    assert info.words == sum(len(t.split()) for t in texts)
    assert info.chars == sum(len(t.replace(" ", "")) for t in texts)
    assert info.total_s == pytest.approx(sum(1.0 + k / 10 for k in range(6)))
    assert (info.min_s, info.max_s) == (1.0, 1.5)
    assert "cmvn.scp" in info.files and "segments" not in info.files
    result = runner.invoke(app, ["data", "info", str(d)])
    assert result.exit_code == 0 and "6 utterances, 3 speakers, 6 recordings" in result.output


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path):
    d = good_dir(tmp_path)
    for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2dur", "cmvn.scp"):
        (d / name).write_bytes(b"\xef\xbb\xbf" + (d / name).read_bytes())
    assert validate_data_dir(d) == []
    assert next(iter(read_table(d / "utt2spk"))) == "spkA-1"
    assert "no file changed" in str(fix_data_dir(d)) and not (d / ".backup").exists()
    assert runner.invoke(app, ["data", "validate", str(d)]).exit_code == 0
    assert data_dir_info(d).utterances == 6


BROKEN = {  # the issue's cases: each makes a reader of the dir refuse it, naming the file and line
    "unsorted": ("text", ["spkA-2 no", "spkA-1 yes", "spkA-3 no", "spkB-1 no", "spkC-1 a", "spkC-2 b"],
                 "text:2: not sorted"),
    "duplicate id": ("utt2spk", ["spkA-1 spkA", "spkA-1 spkA", "spkA-2 spkA", "spkA-3 spkA", "spkB-1 spkB",
                                 "spkC-1 spkC", "spkC-2 spkC"], "utt2spk:2: duplicate key 'spkA-1'"),
    "malformed utt2spk": ("utt2spk", ["spkA-1", "spkA-2 spkA", "spkA-3 spkA", "spkB-1 spkB extra", "spkC-1 spkC",
                                      "spkC-2 spkC"], "utt2spk:1: expected `utt speaker`"),
    "no spk2utt": ("spk2utt", None, "spk2utt: required file is missing"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", [["split", "{d}", "2"], ["split", "{d}", "2", "--per-utt"], ["info", "{d}"],
                                     ["subset", "{d}", "{out}", "--first", "2"], ["perturb-speed", "{d}", "{out}"],
                                     ["combine", "{out}", "{d}"]])
def test_readers_refuse_a_broken_dir_in_one_line_writing_nothing(tmp_path, case, command):
    d = good_dir(tmp_path)
    name, lines, fault = BROKEN[case]
    if lines is None:
        (d / name).unlink()
    else:
        write_dir(d, {name: lines})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = runner.invoke(app, ["data"] + [a.format(d=d, out=tmp_path / "out") for a in command])
    assert result.exit_code == 1
    assert len(result.output.splitlines()) == 1 and result.output.startswith(f"asr: error: {d}/{fault}")
    assert "asr data fix" in result.output
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written
    fixed = runner.invoke(app, ["data", "fix", str(d)])  # the repair tool still takes it
    assert fixed.exit_code == 0, fixed.output
    assert validate_data_dir(d) == []


@pytest.mark.parametrize("make,message", [
    (lambda p: p.mkdir(), "not a data directory"),
    (lambda p: None, "no such directory"),
    (lambda p: p.write_text("x\n"), "not a directory"),
    (lambda p: write_dir(p, {"wav.scp": [], "utt2spk": [], "spk2utt": []}), "utt2spk: no utterances"),
])
def test_info_on_what_is_not_a_data_dir_is_an_error(tmp_path, make, message):
    make(tmp_path / "x")
    result = runner.invoke(app, ["data", "info", str(tmp_path / "x")])
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert result.output.startswith(f"asr: error: {tmp_path / 'x'}") and message in result.output
