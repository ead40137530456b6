"""Bad input never costs work: screening reports, `asr data fix` and `asr feats` dropping bad utterances (or
stopping with --strict), training-time screening, and the recipe stage stamps of recipes/lib.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.data.datadir import DataDir
from asr.data.fix import fix_and_report
from asr.data.kaldi_files import read_table
from asr.data.screen import Rejected, ScreenReport, read_report, report_path
from asr.errors import DataError
from asr.features.extract import make_feats
from asr.features.kaldi import FeatureConfig
from asr.text.tokenizer import CharTokenizer
from asr.training.screen import ctc_min_frames, screen_dataset
from helpers import REPO
from helpers.audio import tone

SR = 8000


def audio_dir(tmp_path: Path) -> dict[str, str]:
    """wav.scp values: three good recordings and one of each bad kind the feature stage finds."""
    a = tmp_path / "audio"
    a.mkdir()
    for name in ("good1", "good2", "good3"):
        sf.write(a / f"{name}.wav", tone(1.0, SR), SR)
    sf.write(a / "rate.wav", tone(1.0, 16000), 16000)
    nan = tone(0.5, SR)
    nan[7] = np.nan
    sf.write(a / "nan.wav", nan, SR, subtype="FLOAT")
    (a / "notaudio.wav").write_text("hello")
    (a / "truncated.wav").write_bytes((a / "good1.wav").read_bytes()[:3000])
    sf.write(a / "tiny.wav", tone(0.01, SR), SR)  # shorter than one 25 ms frame
    return {p.stem: str(p) for p in sorted(a.iterdir())}


def data_dir(tmp_path: Path, wavs: dict[str, str], name: str = "data") -> Path:
    d = DataDir(text={}, utt2dur={})
    for key, wav in wavs.items():
        utt = f"spk-{key}"
        d.wav_scp[utt], d.text[utt], d.utt2spk[utt], d.utt2dur[utt] = wav, "A B", "spk", 1.0
    return d.save(tmp_path / name)


# ---- reports ----------------------------------------------------------------------------------------------


def test_report_round_trip_counts_and_carry_over(tmp_path):
    r = ScreenReport("feats", "data/x", 5, [Rejected("u1", "not audio", "x.wav: bad\tthing"),
                                            Rejected("u2", "duplicate id", "text:3: repeats line 2")])
    assert r.kept == 4  # a duplicate line does not cost its utterance
    assert r.summary() == "feats data/x: kept 4 of 5 utterances, dropped 1: 1 not audio; removed 1 duplicate id line"
    path = r.write(tmp_path / "log" / "feats_report.txt")
    back = read_report(path)
    assert (back.stage, back.source, back.total, [x.utt for x in back.rejected]) == ("feats", "data/x", 5, ["u1", "u2"])
    assert back.rejected[0].detail == "x.wav: bad thing"
    with pytest.raises(DataError, match=r"data/x: 2 bad utterances with --strict: u1: x.wav: bad thing"):
        read_report(path).check(strict=True)
    read_report(path).check(strict=False)
    # a re-run that no longer sees u1 (dropped by the first run) keeps it in the report, apart from its own counts
    again = ScreenReport("feats", "data/x", 4, [])
    again.write(path, screened={"u2", "u3", "u4", "u5"})
    back = read_report(path)
    assert (back.total, back.kept, back.rejected, [x.utt for x in back.earlier]) == (4, 4, [], ["u1"])
    assert path.read_text().splitlines()[:2] == [
        "# feats data/x: kept 4 of 4 utterances, dropped 0; 1 more listed as dropped by an earlier run",
        "# dropped by an earlier run:"]
    back.check(strict=True)  # what an earlier run dropped is no longer in the data dir


def test_report_keeps_ids_that_str_splitlines_would_break(tmp_path):
    odd = ["a\x1cb", "c\x85d", "e\u2028f"]  # line breaks to str.splitlines(), not to Kaldi
    r = ScreenReport("fix", "data of x", 3, [Rejected(u, "bad line in wav.scp", "wav.scp:1: x") for u in odd])
    back = read_report(r.write(tmp_path / "fix_report.txt"))
    assert (back.source, back.total, [x.utt for x in back.rejected]) == ("data of x", 3, odd)


# ---- asr data fix -----------------------------------------------------------------------------------------


def test_fix_lists_bad_transcripts_duplicates_and_missing_audio(tmp_path):
    wavs = audio_dir(tmp_path)
    d = data_dir(tmp_path, {k: wavs[k] for k in ("good1", "good2", "good3")} | {"missing": str(tmp_path / "no.wav")})
    text = (d / "text").read_bytes().splitlines()
    text[0] = b"spk-good1 A \xe9"  # latin-1, not UTF-8
    text.insert(2, b"spk-good2 B B")  # duplicate id (the first line wins)
    (d / "text").write_bytes(b"\n".join(text) + b"\n")
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    with pytest.raises(DataError, match="--strict"):
        fix_and_report(d, strict=True)
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before  # strict changes nothing

    report, path = fix_and_report(d)
    reasons = {r.utt: r.reason for r in read_report(path).rejected}
    assert reasons == {"spk-good1": "transcript not valid UTF-8", "spk-good2": "duplicate id",
                       "spk-missing": "missing file"}
    assert read_table(d / "text") == {"spk-good2": "A B", "spk-good3": "A B"}
    assert path == report_path(d, "fix") and read_report(path).kept == 2


def test_fix_prints_what_its_report_says_and_a_rerun_reports_itself(tmp_path):
    """Utterances are counted, not lines: a duplicated id stays and is told apart from the dropped ones."""
    from typer.testing import CliRunner

    from asr.cli import app

    wavs = audio_dir(tmp_path)
    d = data_dir(tmp_path, {k: wavs[k] for k in ("good1", "good2", "good3")} | {"missing": str(tmp_path / "no.wav")})
    text = (d / "text").read_text().splitlines()
    text[0] = "spk-good1"  # an empty transcript
    text.insert(2, "spk-good2 B B")
    (d / "text").write_text("\n".join(text) + "\n")
    runner = CliRunner()

    first = runner.invoke(app, ["data", "fix", str(d)])
    assert first.exit_code == 0, first.output
    header = report_path(d, "fix").read_text().splitlines()[0]
    assert header == (f"# fix {d}: kept 2 of 4 utterances, dropped 2: 1 empty transcript, 1 missing file; "
                      "removed 1 duplicate id line")
    assert first.output.startswith(header[2:] + "; dropped 2 recordings left")
    assert list(read_table(d / "utt2spk")) == ["spk-good2", "spk-good3"]

    second = runner.invoke(app, ["data", "fix", str(d)])
    assert second.exit_code == 0, second.output
    assert second.output.startswith(f"fix {d}: kept 2 of 2 utterances, dropped 0\nno file changed")
    again = read_report(report_path(d, "fix"))
    assert (again.total, again.kept, again.rejected) == (2, 2, [])
    assert sorted(r.utt for r in again.earlier) == ["spk-good1", "spk-missing"]  # the first run's finds stay
    assert report_path(d, "fix").read_text().splitlines()[0] == (
        f"# fix {d}: kept 2 of 2 utterances, dropped 0; 2 more listed as dropped by an earlier run")


# ---- asr feats --------------------------------------------------------------------------------------------


def test_feats_drop_bad_audio_report_it_and_fix_the_dir(tmp_path):
    d = data_dir(tmp_path, audio_dir(tmp_path))
    cfg = FeatureConfig(sample_rate=SR, num_mel_bins=23)
    with pytest.raises(DataError, match="5 bad utterances with --strict"):
        make_feats(d, cfg, tmp_path / "f", progress=False, strict=True, resample=False)
    assert not (d / "feats.scp").exists()

    make_feats(d, cfg, tmp_path / "f", nj=2, progress=False, resample=False)  # as Kaldi: another rate is bad
    report = read_report(report_path(d, "feats"))
    assert {r.utt: r.reason for r in report.rejected} == {
        "spk-rate": "wrong sample rate", "spk-nan": "NaN samples", "spk-notaudio": "not audio",
        "spk-truncated": "truncated file", "spk-tiny": "no frames"}
    assert (report.total, report.kept) == (8, 3)
    good = ["spk-good1", "spk-good2", "spk-good3"]
    for name in ("feats.scp", "wav.scp", "text", "utt2spk", "utt2dur"):
        assert list(read_table(d / name)) == good, name
    assert (d / ".backup" / "wav.scp").exists()  # as fix_data_dir.sh
    # running the stage again on the cleaned dir keeps what the first run found, apart from its own counts
    make_feats(d, cfg, tmp_path / "f", progress=False)
    again = read_report(report_path(d, "feats"))
    assert (again.total, again.kept, len(again.rejected), len(again.earlier)) == (3, 3, 0, 5)
    # by default (Kaldi's --allow-downsample) another rate is resampled, and said so
    d2 = data_dir(tmp_path, {"rate": str(tmp_path / "audio" / "rate.wav")}, "d2")
    make_feats(d2, cfg, tmp_path / "f", progress=False)
    assert list(read_table(d2 / "feats.scp")) == ["spk-rate"]
    assert (d2 / "log" / "feats_audio.txt").read_text() == "resampled 1 of 1 recordings from 16000 Hz to 8000 Hz\n"


def test_feats_start_by_removing_their_old_outputs(tmp_path):
    """A feature stage killed half-way must never look finished: old outputs go first."""
    d = data_dir(tmp_path, {"a": audio_dir(tmp_path)["notaudio"]})
    for name in ("feats.scp", "cmvn.scp", "utt2num_frames", "feats.yaml"):
        (d / name).write_text("stale\n")
    with pytest.raises(DataError, match="no utterance has usable audio"):
        make_feats(d, FeatureConfig(sample_rate=SR), tmp_path / "f", progress=False)
    assert not any((d / n).exists() for n in ("feats.scp", "cmvn.scp", "utt2num_frames", "feats.yaml"))


# ---- training-time screening ------------------------------------------------------------------------------


class FakeSet:
    """The part of FeatureDataset that screening uses."""

    def __init__(self, items, tok):
        self.utt_ids = [u for u, _, _ in items]
        self.feats = [torch.zeros(n, 4) for _, n, _ in items]
        self.texts = [t for _, _, t in items]
        self.targets = [torch.tensor(tok.encode(t)) for t in self.texts]

    def __len__(self):
        return len(self.utt_ids)

    def keep(self, indices):
        for name in ("utt_ids", "feats", "texts", "targets"):
            setattr(self, name, [getattr(self, name)[i] for i in indices])


def test_ctc_min_frames_counts_blanks_between_repeats():
    assert ctc_min_frames([]) == 0 and ctc_min_frames([3, 4, 5]) == 3 and ctc_min_frames([3, 3, 4, 4, 4]) == 8


def test_training_screen_drops_what_ctc_cannot_learn():
    tok = CharTokenizer.build(["ab"])
    # "aab" needs 4 output frames (a blank between the two a's): 10 frames -> 4 after subsampling, 9 -> 3
    data = FakeSet([("ok", 30, "ab ba"), ("exact", 10, "aab"), ("short", 9, "aab"), ("long", 301, "ab"),
                    ("unk", 30, "ab cé"), ("empty", 30, "  ")], tok)
    report = screen_dataset(data, tok, subsample=3, max_frames=300, stage="train", source="data/train")
    assert {r.utt: r.reason for r in report.rejected} == {"short": "too short for CTC", "long": "too long",
                                                          "unk": "unknown characters", "empty": "empty transcript"}
    assert data.utt_ids == ["ok", "exact"]
    detail = {r.utt: r.detail for r in report.rejected}
    assert "'c' (U+0063) 'é' (U+00E9)" in detail["unk"]


# ---- recipe stage stamps ----------------------------------------------------------------------------------


RECIPE = """#!/usr/bin/env bash
stage=0; stop_stage=100; x=a; nj=1
_recipe_opts="stage stop_stage x nj"
cd "$(dirname "$0")"
. {lib}
parse_options "$@"
start_run "$@"
if stage 0 "zero"; then run sh -c 'echo 0 >> ran'; fi
if stage 1 "one"; then run sh -c 'echo 1 >> ran; test ! -e fail1'; fi
if stage 2 "two"; then run sh -c 'echo 2 >> ran'; fi
"""


def test_stage_stamps_skip_finished_stages_and_redo_failed_ones(tmp_path):
    recipe = tmp_path / "egs" / "toy"
    recipe.mkdir(parents=True)
    (recipe / "run.sh").write_text(RECIPE.replace("{lib}", str(REPO / "recipes" / "lib.sh")))
    stubs = tmp_path / "bin"  # no torch import for this: `python` and `asr` stubs
    stubs.mkdir()
    for name in ("python", "asr"):
        (stubs / name).write_text("#!/bin/sh\necho stub\n")
        (stubs / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}

    def run(*args):
        p = subprocess.run(["bash", "run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=60)
        ran = (recipe / "ran").read_text().split() if (recipe / "ran").exists() else []
        (recipe / "ran").unlink(missing_ok=True)
        stamps = sorted(p.name for p in (recipe / "exp" / ".done").glob("stage*"))
        return p, ran, stamps

    p, ran, stamps = run()
    assert p.returncode == 0 and ran == ["0", "1", "2"] and stamps == ["stage0", "stage1", "stage2"], p.stderr
    p, ran, _ = run()
    assert ran == [] and p.stderr.count("done already") == 3
    p, ran, _ = run("--nj", "4")  # an option that does not change results
    assert ran == []
    p, ran, _ = run("--stage", "2")  # a stage you name always runs
    assert ran == ["2"]
    p, ran, _ = run("--x", "b")  # other options: everything again
    assert ran == ["0", "1", "2"]
    (recipe / "fail1").touch()
    p, ran, stamps = run("--x", "b", "--stage", "1")
    assert p.returncode != 0 and ran == ["1"] and stamps == ["stage0"]  # the failed stage and later: no stamp
    (recipe / "fail1").unlink()
    p, ran, stamps = run("--x", "b")
    assert p.returncode == 0 and ran == ["1", "2"] and stamps == ["stage0", "stage1", "stage2"]
    assert "Usage" in run("--help")[0].stdout and "stamp" in run("--help")[0].stdout
