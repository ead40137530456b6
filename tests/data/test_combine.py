"""`asr data combine` (utils/combine_data.sh): ids that clash are prefixed, never dropped; segments and utt2dur
kept (measured or made up when a source lacks them); `DIR:N` repeats a source; the result is sorted and valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr.cli import app
from asr.data.combine import Source, combine_data_dirs
from asr.data.datadir import DataDir, Segment
from asr.data.kaldi_files import read_table
from asr.data.validate import validate_data_dir
from asr.errors import DataError
from helpers.audio import tone


def make_dir(root: Path, name: str, utts: dict[str, tuple[str, str]], sr: int = 16000, seconds: float = 0.5,
             utt2dur: bool = True) -> Path:
    """A data dir of `utts` ({utt: (speaker, text)}), one tone file each."""
    d = DataDir(text={}, utt2dur={} if utt2dur else None)
    for utt, (spk, text) in utts.items():
        wav = root / "audio" / name / f"{utt}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        sf.write(wav, tone(seconds, sr), sr)
        d.wav_scp[utt], d.utt2spk[utt], d.text[utt] = str(wav), spk, text
        if utt2dur:
            d.utt2dur[utt] = seconds
    return d.save(root / name)


def test_disjoint_ids_are_kept_as_they_are(tmp_path):
    a = make_dir(tmp_path, "a", {"s1-u1": ("s1", "ONE"), "s1-u2": ("s1", "TWO")})
    b = make_dir(tmp_path, "b", {"s2-u1": ("s2", "THREE")}, sr=8000)
    summary = combine_data_dirs(tmp_path / "all", [str(a), str(b)])
    d = DataDir.load(tmp_path / "all")
    assert d.utt_ids == ["s1-u1", "s1-u2", "s2-u1"] and d.text["s2-u1"] == "THREE"
    assert d.wav_scp["s2-u1"].endswith("b/s2-u1.wav") and d.segments is None
    assert str(summary) == f"{tmp_path / 'all'}: 3 utterances: 2 from {a}, 1 from {b}"
    assert validate_data_dir(tmp_path / "all") == []


def test_clashing_ids_prefix_every_source_and_none_is_dropped(tmp_path):
    # the same utterance, speaker and recording ids in two corpora, and two dirs both called `train`
    a = make_dir(tmp_path / "x", "train", {"spk-1": ("spk", "ONE"), "spk-2": ("spk", "TWO")})
    b = make_dir(tmp_path / "y", "train", {"spk-1": ("spk", "UNO")})
    c = make_dir(tmp_path, "c", {"other-1": ("other", "EINS")})
    summary = combine_data_dirs(tmp_path / "all", [str(a), str(b), str(c)])
    d = DataDir.load(tmp_path / "all")
    assert d.utt_ids == ["c-other-1", "train-spk-1", "train-spk-2", "train_2-spk-1"]
    assert d.text["train-spk-1"] == "ONE" and d.text["train_2-spk-1"] == "UNO"
    assert d.utt2spk["train_2-spk-1"] == "train_2-spk" and d.utt2spk["c-other-1"] == "c-other"
    assert d.wav_scp["train_2-spk-1"] == str(tmp_path / "y" / "audio" / "train" / "spk-1.wav")
    assert "1 from " + str(b) + " (ids prefixed 'train_2-')" in str(summary)
    assert validate_data_dir(tmp_path / "all") == []
    # a speaker id alone is a clash too (two corpora's `global` are two people)
    e = make_dir(tmp_path, "e", {"global-a": ("global", "A")})
    f = make_dir(tmp_path, "f", {"global-b": ("global", "B")})
    combine_data_dirs(tmp_path / "ef", [str(e), str(f)])
    assert read_table(tmp_path / "ef" / "utt2spk") == {"e-global-a": "e-global", "f-global-b": "f-global"}
    # --prefix never: a clash is an error naming the id and both sources; always: prefixes without a clash
    with pytest.raises(DataError, match=r"speaker id 'global' is in both .*/e and .*/f"):
        combine_data_dirs(tmp_path / "no", [str(e), str(f)], prefix="never")
    combine_data_dirs(tmp_path / "yes", [str(e), str(c)], prefix="always")
    assert list(read_table(tmp_path / "yes" / "utt2spk")) == ["c-other-1", "e-global-a"]


def test_repeat_a_small_corpus_n_times(tmp_path):
    small = make_dir(tmp_path, "small", {"s-1": ("s", "A"), "s-2": ("s", "B")})
    big = make_dir(tmp_path, "big", {"b-1": ("b", "C")})
    result = CliRunner().invoke(app, ["data", "combine", str(tmp_path / "all"), f"{small}:3", str(big)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{tmp_path / 'all'}: 7 utterances: 6 from {small}:3, 1 from {big}"
    d = DataDir.load(tmp_path / "all")
    assert d.utt_ids == ["b-1"] + [f"rep{k}-s-{i}" for k in (1, 2, 3) for i in (1, 2)]
    assert d.utt2spk["rep2-s-1"] == "rep2-s" and d.text["rep3-s-2"] == "B"
    assert d.wav_scp["rep1-s-1"] == d.wav_scp["rep3-s-1"] == str(tmp_path / "audio" / "small" / "s-1.wav")
    assert validate_data_dir(tmp_path / "all") == []
    assert Source.parse("data/x:12") == Source(Path("data/x"), 12)
    assert Source.parse(str(small)) == Source(small)
    with pytest.raises(DataError, match="at least 1"):
        Source.parse("data/x:0")


def test_segments_and_utt2dur_are_kept_measured_or_made_up(tmp_path):
    # a: segments of one long recording; b: whole recordings without utt2dur (measured from the audio)
    wav = tmp_path / "long.wav"
    sf.write(wav, tone(3.0), 16000)
    a = DataDir(wav_scp={"rec": str(wav)}, utt2spk={"s-a": "s", "s-b": "s"}, text={"s-a": "A", "s-b": "B"},
                segments={"s-a": Segment("rec", 0.0, 1.25), "s-b": Segment("rec", 1.5, 3.0)},
                utt2dur={"s-a": 1.25, "s-b": 1.5}).save(tmp_path / "a")
    b = make_dir(tmp_path, "b", {"rec": ("t", "C")}, seconds=0.75, utt2dur=False)  # `rec`: clashes with a's
    combine_data_dirs(tmp_path / "all", [str(a), str(b)])
    out = tmp_path / "all"
    assert read_table(out / "segments") == {"a-s-a": "a-rec 0.00 1.25", "a-s-b": "a-rec 1.50 3.00",
                                            "b-rec": "b-rec 0.00 -1.00"}
    assert read_table(out / "utt2dur") == {"a-s-a": "1.250", "a-s-b": "1.500", "b-rec": "0.750"}
    assert sorted(read_table(out / "wav.scp")) == ["a-rec", "b-rec"]
    assert validate_data_dir(out) == []
    d = DataDir.load(out)
    assert [(u.utt_id, u.start_s, u.end_s) for u in d.utterances()] == [
        ("a-s-a", 0.0, 1.25), ("a-s-b", 1.5, 3.0), ("b-rec", 0.0, None)]


def test_bad_sources_are_one_line_errors(tmp_path):
    a = make_dir(tmp_path, "a", {"s-1": ("s", "A")})
    notext = make_dir(tmp_path, "n", {"n-1": ("n", "A")})
    (notext / "text").unlink()
    runner = CliRunner()
    for args, message in [
        ([str(tmp_path / "all"), str(a), str(notext)], f"{notext}: has no text while {a} has"),
        ([str(tmp_path / "all"), str(tmp_path / "missing")], f"{tmp_path / 'missing'}: no such directory"),
        ([str(a), str(a)], "must differ from its sources"),
        ([str(tmp_path / "all"), str(a), "--prefix", "sometimes"], "prefix mode 'sometimes'"),
    ]:
        result = runner.invoke(app, ["data", "combine", *args])
        assert result.exit_code == 1 and message in result.stderr, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1


def test_fsdd_8k_and_an4_16k_combine_into_one_16k_training_set(tmp_path):
    """Done-when 3 of issue 15: a few FSDD (8 kHz wav) and AN4 (16 kHz raw behind sox pipes) utterances,
    prepared by their preparers, combined (FSDD twice: oversampled), made 16 kHz features, train 1 epoch."""
    import yaml

    from data_prep import an4, fsdd
    from helpers import corpus_path
    from helpers.training import CONFIG

    if corpus_path("fsdd") is None or corpus_path("an4") is None:
        pytest.skip("FSDD or AN4 corpus not found (set ASR_CORPORA)")
    fsdd.prepare(corpus_path("fsdd"), tmp_path / "fsdd")
    an4.prepare(corpus_path("an4"), tmp_path / "an4")
    runner = CliRunner()

    def asr(*args: str) -> str:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    for corpus, utts in (("fsdd", 4), ("an4", 6)):
        for part in ("train", "dev"):
            asr("data", "subset", tmp_path / corpus / part, tmp_path / f"{corpus}_{part}", "--random", utts)
    out = asr("data", "combine", tmp_path / "train", f"{tmp_path / 'fsdd_train'}:2", tmp_path / "an4_train")
    assert out.strip().endswith(f"14 utterances: 8 from {tmp_path / 'fsdd_train'}:2, 6 from {tmp_path / 'an4_train'}")
    asr("data", "combine", tmp_path / "dev", tmp_path / "fsdd_dev", tmp_path / "an4_dev")
    conf = tmp_path / "fbank.yaml"
    conf.write_text("sample_rate: 16000\nnum_mel_bins: 23\n")
    out = asr("feats", tmp_path / "train", "--conf", conf, "--feat-dir", tmp_path / "fbank")
    assert f"{tmp_path / 'train'}: kept 14 of 14 utterances" in out.replace("feats ", "")
    assert (tmp_path / "train" / "log" / "feats_audio.txt").read_text() == (
        "warning: upsampled 4 of 10 recordings from 8000 Hz to 16000 Hz: they hold nothing above 4000 Hz "
        "(the features' upper bands are empty for them)\n")  # 4 FSDD recordings (x2 ids), 6 AN4 ones
    asr("feats", tmp_path / "dev", "--conf", conf, "--feat-dir", tmp_path / "fbank")
    asr("tokens", tmp_path / "train", "--out", tmp_path / "lang" / "tokens.txt")
    config = {**CONFIG, "training": {**CONFIG["training"], "epochs": 1, "checkpoint_every_steps": 0,
                                     "max_frames": 2000}}
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    asr("train", "--config", tmp_path / "train.yaml", "--train-dir", tmp_path / "train", "--dev-dir",
        tmp_path / "dev", "--tokens", tmp_path / "lang" / "tokens.txt", "--exp-dir", tmp_path / "exp", "--no-progress")
    assert (tmp_path / "exp" / "model.pt").is_file()
    report = (tmp_path / "exp" / "log" / "train_report.txt").read_text().splitlines()[0]
    assert "kept 14 of 14 utterances" in report, report
