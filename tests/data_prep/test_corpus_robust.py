"""The corpus preparers (yesno, FSDD; AN4's in tests/recipes/test_data_prep.py) with a corrupt, truncated or stray file
inside the corpus folder: listed in the set's log/prepare_report.txt and left out, the rest prepared, the split
counts those of the files found; `--strict` stops. (As a new user met it: one non-audio file among yesno's 60
stopped stage 0.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asr.data.validate import validate_data_dir
from asr.errors import DataError
from data_prep import fsdd, yesno
from data_prep.report import read_problems
from helpers import corpus_path


def linked_copy(src: Path, dst: Path) -> Path:
    """A corpus folder of symbolic links to the real files (nothing copied)."""
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        (dst / f.name).symlink_to(f)
    return dst


@pytest.fixture
def yesno_copy(tmp_path) -> Path:
    real = corpus_path("yesno")
    if real is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    root = tmp_path / "yesno"
    linked_copy(real / "waves_yesno", root / "waves_yesno")
    return root


def test_yesno_drops_and_lists_bad_recordings(tmp_path, yesno_copy):
    waves = yesno_copy / "waves_yesno"
    (waves / "0_0_0_0_1_1_1_1.wav").unlink()
    (waves / "0_0_0_0_1_1_1_1.wav").write_text("not a recording\n")  # a train file that is not audio
    data = (waves / "1_0_0_0_0_0_0_1.wav").resolve().read_bytes()
    (waves / "1_0_0_0_0_0_0_1.wav").unlink()
    (waves / "1_0_0_0_0_0_0_1.wav").write_bytes(data[: len(data) // 2])  # a truncated test file
    (waves / "notes.wav").write_text("my notes\n")  # a stray file: in no set, lowers no count
    r = subprocess.run([sys.executable, "-m", "data_prep.yesno", "--corpus-dir", str(yesno_copy), "--data-dir",
                        str(tmp_path / "data")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    train, test = tmp_path / "data" / "train_yesno", tmp_path / "data" / "test_yesno"
    assert validate_data_dir(train) == [] and validate_data_dir(test) == []
    assert len((train / "text").read_text().splitlines()) == 30 and len((test / "text").read_text().splitlines()) == 28
    stray = f"{waves}/notes.wav: unexpected file name: expected 8 digits 0/1 joined by `_`, e.g. 0_1_1_0_0_1_0_1.wav"
    assert read_problems(train) == [
        f"{waves}/0_0_0_0_1_1_1_1.wav: audio does not decode: {waves}/0_0_0_0_1_1_1_1.wav: cannot decode audio: "
        f"Error opening '{waves}/0_0_0_0_1_1_1_1.wav': Format not recognised.", stray]
    problems = read_problems(test)
    assert problems[0].startswith(f"{waves}/1_0_0_0_0_0_0_1.wav: truncated audio: ") and problems[1:] == [stray]
    assert "kept 30 utterances, dropped 2: 1 audio does not decode, 1 unexpected file name" in r.stderr
    with pytest.raises(DataError, match=r"0_0_0_0_1_1_1_1\.wav: audio does not decode: .* \(--strict\)"):
        yesno.prepare(yesno_copy, tmp_path / "strict", strict=True)


def test_fsdd_drops_bad_recordings_and_stray_names(tmp_path):
    real = corpus_path("fsdd")
    if real is None:
        pytest.skip("fsdd corpus not found (set ASR_CORPORA)")
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    for spk in fsdd.KNOWN_SPEAKERS:
        for digit in range(2):
            (rec / f"{digit}_{spk}_0.wav").symlink_to(real / "recordings" / f"{digit}_{spk}_0.wav")
    (rec / "1_lucas_0.wav").unlink()
    (rec / "1_lucas_0.wav").write_bytes(b"")  # empty
    (rec / "x_george_1.wav").write_bytes(b"RIFF")  # a name that fits no speaker
    out = fsdd.prepare(tmp_path / "fsdd", tmp_path / "data", per_speaker=2)
    assert len((out["train"] / "text").read_text().splitlines()) == 7
    assert read_problems(out["train"]) == [f"{rec}/1_lucas_0.wav: empty audio: {rec}/1_lucas_0.wav: empty audio file",
                                           f"{rec}/x_george_1.wav: unexpected file name: expected "
                                           "`{digit}_{speaker}_{index}.wav`"]
    assert read_problems(out["dev"]) == [f"{rec}/x_george_1.wav: unexpected file name: expected "
                                         "`{digit}_{speaker}_{index}.wav`"]

