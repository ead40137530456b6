"""lhotse interop: manifests written by lhotse -> a Kaldi data dir (`asr data from-lhotse`) -> lhotse again."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr.cli import app
from asr.data.validate import validate_data_dir
from data_prep.report import read_problems
from helpers.user_corpora import fsdd_clip, write_audio

lhotse = pytest.importorskip("lhotse")


def table(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def make_manifests(root: Path) -> tuple[Path, Path]:
    """Two recordings (16 kHz WAV mono, 44.1 kHz FLAC stereo), three supervisions, one a missing recording's."""
    from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

    write_audio(root / "r1.wav", fsdd_clip(1), 16000)
    write_audio(root / "r2.flac", fsdd_clip(2), 44100, channels=2)
    recs = RecordingSet.from_recordings([Recording.from_file(root / "r1.wav", recording_id="rec1"),
                                         Recording.from_file(root / "r2.flac", recording_id="rec2")])
    sups = SupervisionSet.from_segments([
        SupervisionSegment("s1", "rec1", start=0.0, duration=0.2, channel=0, text="Hello, world", speaker="spkA"),
        SupervisionSegment("s2", "rec1", start=0.2, duration=0.1, channel=0, text="again", speaker="spkA"),
        SupervisionSegment("s3", "rec2", start=0.0, duration=0.3, channel=[0, 1], text="two", speaker="spkB"),
        SupervisionSegment("s4", "nowhere", start=0.0, duration=0.3, channel=0, text="lost", speaker="spkB"),
    ])
    recs.to_file(root / "recordings.jsonl.gz")
    sups.to_file(root / "supervisions.jsonl.gz")
    return root / "recordings.jsonl.gz", root / "supervisions.jsonl.gz"


def test_from_lhotse_and_back(tmp_path):
    recs, sups = make_manifests(tmp_path / "m")
    out = tmp_path / "data"
    r = CliRunner().invoke(app, ["data", "from-lhotse", str(recs), str(sups), str(out)])
    assert r.exit_code == 0, r.output
    assert "kept 3 utterances, dropped 1: 1 missing recording" in r.output
    assert validate_data_dir(out) == []
    assert table(out / "text") == {"spkA-s1": "Hello world", "spkA-s2": "again", "spkB-s3": "two"}  # --case keep
    assert table(out / "utt2spk") == {"spkA-s1": "spkA", "spkA-s2": "spkA", "spkB-s3": "spkB"}
    assert table(out / "segments") == {"spkA-s1": "r1 0.00 0.20", "spkA-s2": "r1 0.20 0.30", "spkB-s3": "r2 0.00 0.30"}
    assert table(out / "wav.scp") == {"r1": str((tmp_path / "m" / "r1.wav").resolve()),
                                      "r2": str((tmp_path / "m" / "r2.flac").resolve())}  # no ffmpeg pipe
    assert read_problems(out) == [f"{sups}: supervision 's4': missing recording: recording 'nowhere' is not in {recs}"]

    back = tmp_path / "back"
    r = CliRunner().invoke(app, ["data", "to-lhotse", str(out), str(back)])
    assert r.exit_code == 0, r.output
    from lhotse import RecordingSet, SupervisionSet

    recs2 = RecordingSet.from_file(back / "recordings.jsonl.gz")
    sups2 = SupervisionSet.from_file(back / "supervisions.jsonl.gz")
    assert {r.id: r.sampling_rate for r in recs2} == {"r1": 16000, "r2": 44100}  # each its own rate
    assert {r.id: round(r.duration, 2) for r in recs2} == {"r1": round(len(fsdd_clip(1)) / 8000, 2),
                                                          "r2": round(len(fsdd_clip(2)) / 8000, 2)}
    assert {(s.id, s.recording_id, s.start, round(s.duration, 2), s.text, s.speaker) for s in sups2} == {
        ("spkA-s1", "r1", 0.0, 0.2, "Hello world", "spkA"), ("spkA-s2", "r1", 0.2, 0.1, "again", "spkA"),
        ("spkB-s3", "r2", 0.0, 0.3, "two", "spkB")}
    r1 = {r.id: r for r in recs2}["r1"]
    assert r1.load_audio().shape[-1] == r1.num_samples  # lhotse reads what it describes


def test_to_lhotse_without_segments(tmp_path):
    src = tmp_path / "audio"
    write_audio(src / "u1.wav", fsdd_clip(3), 8000)
    (src / "u1.txt").write_text("three")
    from data_prep import folder

    folder.prepare(src, tmp_path / "data")
    r = CliRunner().invoke(app, ["data", "to-lhotse", str(tmp_path / "data"), str(tmp_path / "lh")])
    assert r.exit_code == 0, r.output
    from lhotse import SupervisionSet

    sups = SupervisionSet.from_file(tmp_path / "lh" / "supervisions.jsonl.gz")
    assert [(s.id, s.text, s.speaker) for s in sups] == [("u1", "THREE", "u1")]
