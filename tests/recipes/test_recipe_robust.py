"""The yesno recipe against bad input and crashes, in scratch copies of egs/yesno:

- eleven planted bad utterances (one of each kind the stages screen for) go through the whole recipe: each is
  listed with its reason in a stage's report, the recipe says what was dropped, and the test WER on the good
  files is Kaldi's `%WER 0.00 [ 0 / 232 ]` (+ 8 words), as without them; a recording at another sample rate is
  not bad: a test file at 16 kHz is resampled to 8 kHz, the feature stage says so, and it is recognised;
- killing the recipe (SIGKILL, whole process group) during feature extraction and re-running the same command
  gives the same feats.scp (and features) as a clean run.

yesno's data prep derives transcripts from file names and asserts the official split counts, so the bad cases
are planted into the prepared data dirs (wav.scp entries pointing at bad files, text lines) after stage 0: where
a Kaldi user's fix_data_dir.sh and feature stage meet them. The re-run skips stage 0 by its stamp.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from asr.audio import resample
from asr.data.screen import read_report
from helpers import corpus_path
from helpers.recipes import recipe_env, run_recipe, scratch_recipe

pytestmark = pytest.mark.slow
CLEAN_WER = "%WER 0.00 [ 0 / 240, 0 ins, 0 del, 0 sub ]"  # the 29 good test files, and the resampled one
DUPLICATE = "0_0_1_0_0_1_1_0"  # a real train utterance whose text line is repeated (with other words)


def make_bad_files(waves: Path, out: Path) -> dict[str, str]:
    """The bad recordings: wav.scp value for each planted id."""
    out.mkdir()
    real = sorted(waves.glob("0_*.wav"))
    x, sr = sf.read(real[0], dtype="float32")
    (out / "empty.wav").write_bytes(b"")
    data = real[1].read_bytes()
    (out / "truncated.wav").write_bytes(data[: len(data) // 2])
    nan = x.copy()
    nan[1000] = np.nan
    sf.write(out / "nan.wav", nan, sr, subtype="FLOAT")
    test = waves / "1_0_0_0_0_0_0_1.wav"
    sf.write(out / "rate.wav", resample(sf.read(test, dtype="float32")[0], sr, 16000), 16000)  # the corpus: 8 kHz
    sf.write(out / "short.wav", x[: sr // 10], sr)  # 0.1 s: 8 frames -> 3 after subsampling, for 8 words
    sf.write(out / "long.wav", np.concatenate([sf.read(f, dtype="float32")[0] for f in real[:3]]), sr)  # ~18 s
    (out / "notaudio.wav").write_text("this is not a recording\n")
    return {"0_bad_empty": out / "empty.wav", "0_bad_truncated": out / "truncated.wav", "0_bad_nan": out / "nan.wav",
            "1_bad_rate": out / "rate.wav", "0_bad_short": out / "short.wav", "0_bad_long": out / "long.wav",
            "0_bad_emptytext": real[2], "0_bad_utf8": real[3], "0_bad_unknown": real[4],
            "1_bad_missing": out / "missing.wav", "1_bad_notaudio": out / "notaudio.wav"}


EIGHT = "NO YES NO NO YES YES NO YES"
PLANTED = {  # utt: (data dir, transcript bytes, the stage whose report lists it, expected reason)
    "0_bad_empty": ("train_nodev", EIGHT.encode(), "fix", "empty file"),
    "1_bad_missing": ("test_yesno", EIGHT.encode(), "fix", "missing file"),
    "0_bad_emptytext": ("train_nodev", b"", "fix", "empty transcript"),
    "0_bad_utf8": ("train_nodev", "NO YES NO NO YES YES NO YÉS".encode("latin-1"), "fix",
                   "transcript not valid UTF-8"),
    DUPLICATE: ("train_nodev", b"YES YES YES YES YES YES YES YES", "fix", "duplicate id"),
    "0_bad_truncated": ("train_nodev", EIGHT.encode(), "feats", "truncated file"),
    "0_bad_nan": ("train_nodev", EIGHT.encode(), "feats", "NaN samples"),
    "1_bad_notaudio": ("test_yesno", EIGHT.encode(), "feats", "not audio"),
    "0_bad_short": ("train_nodev", EIGHT.encode(), "train", "too short for CTC"),
    "0_bad_long": ("train_nodev", " ".join([EIGHT] * 3).encode(), "train", "too long"),
    "0_bad_unknown": ("train_dev", b"NO YES MAYBE NO YES YES NO YES", "dev", "unknown words"),  # word units
}
# planted and kept (a test file: training stays as without it): 1_0_0_0_0_0_0_1 at 16 kHz, resampled to 8 kHz
RESAMPLED = {"1_bad_rate": ("test_yesno", b"YES NO NO NO NO NO NO YES", "feats", "")}


def plant(data: Path, wavs: dict[str, Path]) -> None:
    """Append the planted utterances to the prepared data dirs (files kept sorted; the duplicate line follows
    the original, so the first line, the real transcript, wins)."""
    for utt, (name, text, _, _) in (PLANTED | RESAMPLED).items():
        d = data / name
        lines = {f: (d / f).read_bytes().splitlines() for f in ("wav.scp", "text", "utt2spk", "utt2dur")}
        lines["text"].append(f"{utt} ".encode() + text if text else utt.encode())
        if utt != DUPLICATE:
            lines["wav.scp"].append(f"{utt} {wavs[utt]}".encode())
            lines["utt2spk"].append(f"{utt} global".encode())
            lines["utt2dur"].append(f"{utt} 2.000".encode())
        for f, content in lines.items():
            content.sort(key=lambda line: line.split(b" ", 1)[0])  # stable: a duplicate stays second
            (d / f).write_bytes(b"".join(line + b"\n" for line in content))
        utts = sorted(line.split(b" ", 1)[0].decode() for line in lines["utt2spk"])
        (d / "spk2utt").write_text("global " + " ".join(utts) + "\n")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    root = tmp_path_factory.mktemp("robust")
    recipe = scratch_recipe(root)
    first = run_recipe(recipe, "--corpus-dir", str(corpus), "--stop-stage", "0")
    assert first.returncode == 0, first.stderr[-3000:]
    plant(recipe / "data", make_bad_files(corpus / "waves_yesno", root / "bad"))
    proc = run_recipe(recipe, "--corpus-dir", str(corpus), "--nj", "1")  # stage 0 is stamped done: skipped
    assert proc.returncode == 0, proc.stderr[-3000:]
    return recipe, proc


def reports(recipe: Path) -> list[Path]:
    """The screening reports (data prep's prepare_report.txt lists source files by line, in another form)."""
    screened = [p for p in recipe.glob("data/*/log/*_report.txt") if p.name != "prepare_report.txt"]
    return sorted(screened) + sorted(recipe.glob("exp/bilstm_ctc/log/*_report.txt"))


def test_every_planted_case_is_listed_with_its_reason(planted_run):
    recipe, proc = planted_run
    found = {}
    for path in reports(recipe):
        report = read_report(path)
        for r in report.rejected:
            assert r.utt not in found, f"{r.utt} listed twice ({path})"
            found[r.utt] = (report.stage, r.reason, r.detail)
    # 0_bad_long's three recordings show its 24 words, so local/crops.py copies it; a copy still over max_frames
    # is dropped as too long too
    copies = {u: f for u, f in found.items() if u.startswith("crop")}
    assert all(u.endswith("-0_bad_long") and f[:2] == ("train", "too long") for u, f in copies.items()), copies
    assert {u: f[:2] for u, f in found.items() if u not in copies} == {u: p[2:] for u, p in PLANTED.items()}
    assert "not in tokens.txt: 'MAYBE'" in found["0_bad_unknown"][2]
    assert "data/test_yesno: resampled 1 of 30 recordings from 16000 Hz to 8000 Hz" in proc.stdout
    assert str(recipe.parents[1] / "bad" / "missing.wav") in found["1_bad_missing"][2]
    assert "text:" in found[DUPLICATE][2] and "repeats the id of line" in found[DUPLICATE][2]


def test_reports_count_and_the_recipe_says_what_was_dropped(planted_run):
    recipe, proc = planted_run
    summary = [line for line in proc.stderr.splitlines() if line.startswith("screening: ")]
    for path in reports(recipe):
        report = read_report(path)
        head = path.read_text().splitlines()[0]
        assert f"kept {report.kept} of {report.total} utterances, dropped {report.total - report.kept}" in head
        assert report.total - report.kept == len([r for r in report.rejected if r.reason != "duplicate id"])
        if report.rejected:
            assert any(str(path.relative_to(recipe)) in line for line in summary), (path, summary)
    assert "stage 0: data preparation: done already" in proc.stderr


def test_wer_on_the_good_test_files_is_unchanged(planted_run):
    recipe, proc = planted_run
    assert proc.stdout.strip().splitlines()[-1] == f"{CLEAN_WER} exp/bilstm_ctc/decode_test_yesno_greedy"
    hyp = (recipe / "exp" / "bilstm_ctc" / "decode_test_yesno_greedy" / "text").read_text().splitlines()
    assert len(hyp) == 29 + 1 and [line for line in hyp if "bad" in line] == ["1_bad_rate YES NO NO NO NO NO NO YES"]
    train_feats = (recipe / "data" / "train_crops" / "feats.scp").read_text().splitlines()
    files = [line for line in train_feats if not line.startswith("crop")]  # and local/crops.py's copies
    assert len(files) == 27 + 2  # the too short and too long ones have features; training drops them


def _feature_outputs(recipe: Path) -> dict[str, object]:
    out = {}
    for d in sorted((recipe / "data").glob("*/feats.scp")):
        for name in ("feats.scp", "utt2num_frames", "cmvn.scp", "feats.yaml"):
            out[f"{d.parent.name}/{name}"] = (d.parent / name).read_text()
        out[f"{d.parent.name}/matrices"] = {k: np.array(v).tobytes() for k, v in kaldiio.load_scp(str(d)).items()}
    return out


def test_recipe_killed_during_features_reruns_to_the_same_feats(tmp_path):
    corpus = corpus_path("yesno")
    if corpus is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    recipe = scratch_recipe(tmp_path)
    cmd = ("--corpus-dir", str(corpus), "--stop-stage", "2")  # stage 2: features
    clean = run_recipe(recipe, *cmd)
    assert clean.returncode == 0, clean.stderr[-3000:]
    expected = _feature_outputs(recipe)
    assert len(expected) == 3 * 5
    for d in ("data", "exp", "fbank"):
        shutil.rmtree(recipe / d)

    rnd = random.Random(int(os.environ.get("ASR_TEST_SEED", random.randrange(1 << 30))))
    for attempt in range(5):  # kill at a random moment of stage 2 (retry should the stage have finished first)
        proc = subprocess.Popen(["bash", "run.sh", *cmd], cwd=recipe, env=recipe_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        run_log = recipe / "exp" / "log" / "run.log"
        while not (run_log.exists() and "# stage 2:" in run_log.read_text()):
            assert proc.poll() is None, "the recipe ended before stage 2"
            time.sleep(0.02)
        time.sleep(rnd.uniform(0.5, 6.0) / (attempt + 1))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if not (recipe / "exp" / ".done" / "stage2").exists():
            break
    assert not (recipe / "exp" / ".done" / "stage2").exists(), "stage 2 always finished before the kill"
    assert (recipe / "exp" / ".done" / "stage1").exists()

    rerun = run_recipe(recipe, *cmd)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _feature_outputs(recipe) == expected
    assert not list((recipe / "fbank").glob("*.tmp"))
