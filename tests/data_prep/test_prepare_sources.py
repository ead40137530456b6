"""`asr prepare` sources: tiny corpora of every layout (FSDD audio re-encoded as MP3/Opus/FLAC/WAV at 8-48 kHz,
mono and stereo) -> the exact Kaldi data dirs expected."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asr.data.validate import validate_data_dir
from data_prep import auto, commonvoice, folder, ljspeech, manifest
from data_prep.report import read_problems
from helpers.user_corpora import CV_HEADER, cv_row, fsdd_clip, write_audio, write_jsonl, write_table


def table(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in path.read_text().splitlines())


def check_dir(d: Path, wav: dict, text: dict, utt2spk: dict, durs: dict) -> None:
    """The data dir holds exactly these entries (wav.scp values: absolute paths) and is valid."""
    assert validate_data_dir(d) == []
    assert table(d / "wav.scp") == {k: str(Path(v).resolve()) for k, v in wav.items()}
    assert table(d / "text") == text
    assert table(d / "utt2spk") == utt2spk
    spk2utt: dict[str, list[str]] = {}
    for u in sorted(utt2spk):
        spk2utt.setdefault(utt2spk[u], []).append(u)
    assert table(d / "spk2utt") == {s: " ".join(us) for s, us in spk2utt.items()}
    got = {u: float(v) for u, v in table(d / "utt2dur").items()}
    assert got.keys() == durs.keys()
    for u, dur in durs.items():
        assert got[u] == pytest.approx(dur, abs=0.06), u  # MP3 encoders pad a frame or so


def test_folder_mixed_formats_rates_and_channels(tmp_path):
    src = tmp_path / "corpus"
    files = {"alice/a1.wav": (16000, 1), "alice/a2.flac": (44100, 2), "bob/b1.mp3": (48000, 1),
             "bob/sub/b2.opus": (48000, 2), "top.ogg": (8000, 1)}
    durs, wav, text, utt2spk = {}, {}, {}, {}
    for i, (rel, (rate, ch)) in enumerate(files.items()):
        p = src / rel
        dur = write_audio(p, fsdd_clip(i), rate, ch)
        said = ["Zero,", "One.", "two!", "Three?", "four"][i]
        p.with_suffix(".txt" if i % 2 == 0 else ".lab").write_text(f"  {said}\n")
        spk = {"alice": "alice", "bob": "bob", "sub": "sub"}.get(p.parent.name)
        base = "-".join(Path(rel).with_suffix("").parts)
        utt = base if spk and base.startswith(spk + "-") else f"{spk}-{base}" if spk else base
        wav[utt], text[utt], utt2spk[utt], durs[utt] = p, ["ZERO", "ONE", "TWO", "THREE", "FOUR"][i], spk or utt, dur
    out = tmp_path / "data" / "train"
    report = folder.prepare(src, out)
    assert report.problems == [] and report.kept == 5
    check_dir(out, wav, text, utt2spk, durs)
    assert set(utt2spk) == {"alice-a1", "alice-a2", "bob-b1", "sub-bob-sub-b2", "top"}
    record = yaml.safe_load((out / "log" / "prepare.yaml").read_text())
    assert record["format"] == "folder" and record["sample_rates"] == {8000: 1, 16000: 1, 44100: 1, 48000: 2}
    assert record["text_normalization"]["case"] == "upper"
    assert record["text_normalization"]["removed_characters"] == {
        "U+0021 EXCLAMATION MARK '!'": 1, "U+002C COMMA ','": 1, "U+002E FULL STOP '.'": 1,
        "U+003F QUESTION MARK '?'": 1}


def test_folder_speaker_regex_and_level(tmp_path):
    src = tmp_path / "corpus"
    for i, rel in enumerate(["s01/x/A_01.wav", "s01/x/B_02.wav"]):
        write_audio(src / rel, fsdd_clip(i))
        (src / rel).with_suffix(".txt").write_text(str(i))
    out = tmp_path / "d1"
    folder.prepare(src, out, speaker_from=r"regex:/(?P<spk>[A-Z])_")
    assert table(out / "utt2spk") == {"A-s01-x-A_01": "A", "B-s01-x-B_02": "B"}
    assert table(out / "text") == {"A-s01-x-A_01": "0", "B-s01-x-B_02": "1"}  # numbers kept as written
    folder.prepare(src, tmp_path / "d2", speaker_from="level:1")
    assert table(tmp_path / "d2" / "utt2spk") == {"s01-x-A_01": "s01", "s01-x-B_02": "s01"}


def test_folder_with_one_transcripts_tsv(tmp_path):
    src = tmp_path / "corpus"
    d0 = write_audio(src / "audio" / "u0.wav", fsdd_clip(0), 16000)
    d1 = write_audio(src / "audio" / "u1.flac", fsdd_clip(1), 16000)
    write_table(src / "transcripts.tsv", ["file", "transcript", "speaker"],
                [["audio/u0.wav", "zero", "s1"], ["audio/u1.flac", "one", "s2"]], "\t")
    out = tmp_path / "data"
    folder.prepare(src, out)
    check_dir(out, {"s1-audio-u0": src / "audio/u0.wav", "s2-audio-u1": src / "audio/u1.flac"},
              {"s1-audio-u0": "ZERO", "s2-audio-u1": "ONE"}, {"s1-audio-u0": "s1", "s2-audio-u1": "s2"},
              {"s1-audio-u0": d0, "s2-audio-u1": d1})


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl"])
def test_manifest_relative_paths(tmp_path, kind):
    root = tmp_path / "m"
    d = [write_audio(root / "wavs" / f"c{i}.wav", fsdd_clip(i), [8000, 16000, 44100][i]) for i in range(3)]
    texts = ['He said, "zero"', "O'Brien's one-way", "Ｔｗｏ　ｔｈｒｅｅ"]  # quotes; apostrophes, hyphen; full-width
    rows = [[f"wavs/c{i}.wav", texts[i], f"spk{i % 2}", f"{d[i]:.3f}"] for i in range(3)]
    path = root / f"list.{kind}"
    if kind == "jsonl":
        write_jsonl(path, [{"audio_filepath": r[0], "text": r[1], "speaker": r[2], "duration": float(r[3])}
                           for r in rows])
    else:
        write_table(path, ["path", "text", "speaker", "duration"], rows, "," if kind == "csv" else "\t")
    out = tmp_path / "data"
    report = manifest.prepare(path, out, case="lower")
    assert report.problems == []
    utts = ["spk0-wavs-c0", "spk1-wavs-c1", "spk0-wavs-c2"]
    check_dir(out, {u: root / "wavs" / f"c{i}.wav" for i, u in enumerate(utts)},
              dict(zip(utts, ["he said zero", "o'brien's one-way", "two three"])),
              {u: f"spk{i % 2}" for i, u in enumerate(utts)}, dict(zip(utts, d)))
    removed = yaml.safe_load((out / "log" / "prepare.yaml").read_text())["text_normalization"]["removed_characters"]
    assert removed == {"U+0022 QUOTATION MARK '\"'": 2, "U+002C COMMA ','": 1}


def test_manifest_segments_from_offsets(tmp_path):
    """NeMo-style offset + duration, and start/end columns: one recording cut into utterances (segments)."""
    root = tmp_path / "m"
    write_audio(root / "long.wav", __import__("numpy").concatenate([fsdd_clip(i) for i in range(3)]), 16000)
    write_jsonl(root / "m.jsonl", [{"audio_filepath": "long.wav", "text": "a", "offset": 0.0, "duration": 0.25},
                                   {"audio_filepath": "long.wav", "text": "b", "offset": 0.5, "duration": 0.25}])
    out = tmp_path / "data"
    manifest.prepare(root / "m.jsonl", out)
    assert validate_data_dir(out) == []
    assert table(out / "segments") == {"long-0000000-0000025": "long 0.00 0.25",
                                       "long-0000050-0000075": "long 0.50 0.75"}
    assert table(out / "wav.scp") == {"long": str((root / "long.wav").resolve())}
    assert table(out / "utt2dur") == {"long-0000000-0000025": "0.250", "long-0000050-0000075": "0.250"}


def make_cv(root: Path, header=CV_HEADER) -> dict:
    """A Common Voice release: 48 kHz MP3 clips, train/dev/test TSVs with the real column set."""
    clips, expected = root / "clips", {}
    splits = {"train": [("a1b2", 0), ("a1b2", 1), ("c3d4", 2)], "dev": [("e5f6", 3)], "test": [("0789", 4)]}
    for split, rows in splits.items():
        lines = []
        for client, digit in rows:
            name = f"common_voice_en_{100 + digit}.mp3"
            dur = write_audio(clips / name, fsdd_clip(digit), 48000)
            row = dict(zip(CV_HEADER, cv_row(client, name, f"{['Zero', 'One', 'Two', 'Three', 'Four'][digit]}.")))
            lines.append([row.get(h, "x") for h in header])
            expected.setdefault(split, {})[f"{client}-common_voice_en_{100 + digit}"] = (
                clips / name, ["ZERO", "ONE", "TWO", "THREE", "FOUR"][digit], client, dur)
        write_table(root / f"{split}.tsv", header, lines, "\t")
    write_table(root / "validated.tsv", header, [], "\t")
    return expected


@pytest.mark.parametrize("header", [CV_HEADER, ["client_id", "path", "sentence_id", "sentence", "sentence_domain",
                                                "up_votes", "down_votes", "age", "gender", "accents", "variant",
                                                "locale", "segment"]], ids=["v13", "v17"])
def test_commonvoice_release(tmp_path, header):
    expected = make_cv(tmp_path / "cv-corpus" / "en", header)
    reports = commonvoice.prepare(tmp_path / "cv-corpus" / "en", tmp_path / "data")
    assert set(reports) == {"train", "dev", "test"}
    for split, utts in expected.items():
        check_dir(tmp_path / "data" / split, {u: v[0] for u, v in utts.items()}, {u: v[1] for u, v in utts.items()},
                  {u: v[2] for u, v in utts.items()}, {u: v[3] for u, v in utts.items()})
    assert read_problems(tmp_path / "data" / "train") == []


def test_ljspeech(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    d = [write_audio(root / "wavs" / f"LJ001-000{i}.wav", fsdd_clip(i), 22050) for i in range(2)]
    (root / "metadata.csv").write_text("LJ001-0000|Dr. Smith, 1st|Doctor Smith, first\nLJ001-0001|one|\n")
    out = tmp_path / "data"
    ljspeech.prepare(root, out)
    utts = ["LJ-LJ001-0000", "LJ-LJ001-0001"]
    check_dir(out, {u: root / "wavs" / f"LJ001-000{i}.wav" for i, u in enumerate(utts)},
              dict(zip(utts, ["DOCTOR SMITH FIRST", "ONE"])), dict.fromkeys(utts, "LJ"), dict(zip(utts, d)))


def test_auto_detects_each_layout(tmp_path):
    make_cv(tmp_path / "cv")
    lj = tmp_path / "lj"
    write_audio(lj / "wavs" / "x.wav", fsdd_clip(0))
    (lj / "metadata.csv").write_text("x|zero|zero\n")
    (tmp_path / "m.csv").write_text("path,text\ncv/clips/common_voice_en_100.mp3,zero\n")
    assert auto.detect(tmp_path / "cv") == "commonvoice"
    assert auto.detect(tmp_path / "cv" / "dev.tsv") == "commonvoice-split"
    assert auto.detect(lj) == "ljspeech"
    assert auto.detect(tmp_path / "m.csv") == "manifest"
    assert auto.detect(tmp_path / "cv" / "clips") == "folder"
    out = auto.prepare(tmp_path / "cv", tmp_path / "d_cv")
    assert sorted(Path(p).name for p in out) == ["dev", "test", "train"]
    auto.prepare(tmp_path / "cv" / "dev.tsv", tmp_path / "d_dev")
    assert table(tmp_path / "d_dev" / "text") == {"e5f6-common_voice_en_103": "THREE"}
    auto.prepare(tmp_path / "m.csv", tmp_path / "d_m")
    assert table(tmp_path / "d_m" / "text") == {"cv-clips-common_voice_en_100": "ZERO"}
    # a data dir: a validated copy (features are not copied)
    assert auto.detect(tmp_path / "d_dev") == "datadir"
    (tmp_path / "d_dev" / "feats.scp").write_text("e5f6-common_voice_en_103 x.ark:1\n")
    auto.prepare(tmp_path / "d_dev", tmp_path / "d_copy")
    assert table(tmp_path / "d_copy" / "text") == table(tmp_path / "d_dev" / "text")
    assert not (tmp_path / "d_copy" / "feats.scp").exists() and validate_data_dir(tmp_path / "d_copy") == []


def test_cli_commands(tmp_path, yesno_dir):
    from typer.testing import CliRunner

    from asr.cli import app

    make_cv(tmp_path / "cv")
    run = CliRunner().invoke
    r = run(app, ["prepare", "commonvoice", str(tmp_path / "cv"), str(tmp_path / "d"), "--splits", "train,dev",
                  "--nj", "2", "--case", "lower"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        f"prepare {tmp_path / 'cv' / s}.tsv -> {tmp_path / 'd' / s}: kept {n} utterances; text: removed {n} "
        f"character{'s' * (n > 1)}: {n} '.'" for s, n in (("train", 3), ("dev", 1))]
    assert table(tmp_path / "d" / "dev" / "text") == {"e5f6-common_voice_en_103": "three"}
    assert not (tmp_path / "d" / "test").exists()
    r = run(app, ["prepare", "auto", str(tmp_path / "cv" / "test.tsv"), str(tmp_path / "t")])
    assert r.exit_code == 0 and table(tmp_path / "t" / "text") == {"0789-common_voice_en_104": "FOUR"}
    r = run(app, ["prepare", "yesno", str(tmp_path / "y"), "--corpus-dir", str(yesno_dir.parent)])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [f"prepare {yesno_dir.resolve()} -> {tmp_path / 'y' / s}: kept {n} utterances"
                                     for s, n in (("train_yesno", 31), ("test_yesno", 29))]


def test_folder_with_ljspeech_metadata_and_empty_cv_split(tmp_path):
    lj = tmp_path / "lj"
    write_audio(lj / "wavs" / "a1.wav", fsdd_clip(5))
    (lj / "metadata.csv").write_text("a1|Five.|five\n")
    folder.prepare(lj, tmp_path / "d")  # a headerless `id|text|normalized` metadata.csv: LJSpeech's
    assert table(tmp_path / "d" / "text") == {"LJ-a1": "FIVE"}
    make_cv(tmp_path / "cv")
    write_table(tmp_path / "cv" / "test.tsv", CV_HEADER, [], "\t")  # a split with no clips is skipped
    assert set(commonvoice.prepare(tmp_path / "cv", tmp_path / "c")) == {"train", "dev"}


def test_data_dir_copy_lists_what_fix_drops(tmp_path):
    make_cv(tmp_path / "cv")
    commonvoice.prepare_split(tmp_path / "cv" / "train.tsv", tmp_path / "src")
    wav = tmp_path / "src" / "wav.scp"
    lines = wav.read_text().splitlines()
    lines[1] = lines[1].split()[0] + " /nonexistent/x.mp3"
    wav.write_text("".join(line + "\n" for line in lines))
    (tmp_path / "src" / "utt2dur").unlink()  # computed again
    report = auto.prepare(tmp_path / "src", tmp_path / "copy")[str(tmp_path / "copy")]
    assert [str(p) for p in report.problems] == [
        f"{wav}:2: missing file: 'a1b2-common_voice_en_101': no such file: /nonexistent/x.mp3"]
    assert sorted(table(tmp_path / "copy" / "utt2dur")) == ["a1b2-common_voice_en_100", "c3d4-common_voice_en_102"]
    assert validate_data_dir(tmp_path / "copy") == []
