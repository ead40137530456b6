"""data_prep: AN4, FSDD and LibriSpeech in their official layouts (tiny fixtures made here) -> Kaldi data dirs."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.data.datadir import DataDir
from asr.errors import DataError
from data_prep import an4, fsdd, librispeech
from data_prep.common import find_corpus

RNG = np.random.default_rng(0)
# 11 speakers, so the every-10th dev rule picks two (the 1st and 11th); `mdcs`/`mdcs2` test C-order sorting.
AN4_SPEAKERS = ["fash", "fbbh", "fclc", "mblb", "mdcs", "mdcs2", "mjda", "mmkw", "mrab", "mtcv", "mwhw"]


def pcm(n):
    """n int16 samples that are wrong if read with the wrong byte order (both bytes non-zero, signs mixed)."""
    return (RNG.integers(1, 120, n) * 257 * RNG.choice([-1, 1], n)).astype(np.int16)


def make_an4(root: Path, with_test: bool) -> dict[str, tuple[str, np.ndarray]]:
    """AN4 layout; returns {our utt id: (text, samples)}."""
    truth = {}
    parts = {"train": [(spk, f"an{10 * i + j}-{spk}-b", "an4_clstk") for i, spk in enumerate(AN4_SPEAKERS)
                       for j in range(2)]}
    if with_test:
        parts["test"] = [("fcaw", f"an40{j}-fcaw-b", "an4test_clstk") for j in range(3)]
    for part, utts in parts.items():
        ids, trans = [], []
        for k, (spk, rec, folder) in enumerate(utts):
            words = ["YES", "TWO", "A"][: 1 + k % 3]
            x = pcm(400 + 16 * k)
            (root / "wav" / folder / spk).mkdir(parents=True, exist_ok=True)
            x.astype(">i2").tofile(root / "wav" / folder / spk / f"{rec}.raw")
            ids.append(f"{folder}/{spk}/{rec}\n")
            text = " ".join(words)
            trans.append(f"<s> {text} </s> ({rec})\n" if part == "train" else f"{text} ({rec})\n")
            p, s, q = rec.split("-")
            truth[f"{s}-{p}-{q}"] = (text, x)
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / f"an4_{part}.fileids").write_text("".join(ids))
        (root / "etc" / f"an4_{part}.transcription").write_text("".join(trans))
    (root / "etc" / "an4.dic").write_text("A                    AH\nA(2)                 EY\nTWO\tT UW\nyes Y EH S\n")
    return truth


def an4_expected(with_test):
    return {"train": 18, "dev": 4, "test": 3 if with_test else 0}


@pytest.mark.parametrize("with_test", [True, False])
def test_an4(tmp_path, with_test):
    corpus, data = tmp_path / "an4", tmp_path / "data"
    truth = make_an4(corpus, with_test)
    out = an4.prepare(corpus, data, expected=an4_expected(with_test))
    assert set(out) == {"train", "dev", "lm_train", "dic", "lexicon"} | ({"test"} if with_test else set())
    assert (data / "test").exists() == with_test
    dirs = {name: DataDir.load(data / name) for name in ("train", "dev", "test") if name in out}
    # dev = every 10th sorted speaker from the first; no speaker in two sets
    assert set(dirs["dev"].spk2utt) == {"fash", "mwhw"}
    assert set(dirs["train"].spk2utt) == set(AN4_SPEAKERS) - {"fash", "mwhw"}
    if with_test:
        assert set(dirs["test"].spk2utt) == {"fcaw"} and len(dirs["test"].utt2spk) == 3
    assert sorted(u for d in dirs.values() for u in d.utt2spk) == sorted(truth)
    for d in dirs.values():
        for utt in d.utt_ids:
            text, x = truth[utt]
            assert utt.startswith(d.utt2spk[utt] + "-an") and d.text[utt] == text  # <s> </s> gone
            assert d.utt2dur[utt] == pytest.approx(len(x) / 16000, abs=1e-3)
            assert d.wav_scp[utt].startswith("sox -t raw -r 16000 -e signed-integer -b 16 -B -c 1 /")
    utt = dirs["dev"].utt_ids[0]
    y = load_audio(dirs["dev"].wav_scp[utt])
    np.testing.assert_array_equal(y, truth[utt][1] / 32768.0)  # big-endian read correctly
    assert out["lm_train"].read_text().splitlines() == [dirs["train"].text[u] for u in dirs["train"].utt_ids]
    assert out["lexicon"].read_text() == "A AH\nA EY\nTWO T UW\nYES Y EH S\n"
    assert out["dic"] == corpus.resolve() / "etc" / "an4.dic"


def test_an4_counts_and_mismatches_are_errors(tmp_path):
    corpus = tmp_path / "an4"
    make_an4(corpus, with_test=False)
    with pytest.raises(DataError, match=r"train: expected 850 utterances by the split rule, found 18"):
        an4.prepare(corpus, tmp_path / "d1")  # the official counts
    trn = corpus / "etc" / "an4_train.transcription"
    lines = trn.read_text().splitlines(keepends=True)
    trn.write_text("".join(lines[:-1]))
    with pytest.raises(DataError, match=r"an4_train\.fileids:22: no matching line in .*an4_train\.transcription"):
        an4.prepare(corpus, tmp_path / "d2", expected=None)
    lines[3], lines[4] = lines[4], lines[3]
    trn.write_text("".join(lines))
    with pytest.raises(DataError, match=r"an4_train\.transcription:4: utterance 'an20-fclc-b' but .*fileids:4 names"):
        an4.prepare(corpus, tmp_path / "d3", expected=None)


def test_an4_drops_missing_and_truncated_recordings(tmp_path):
    corpus = tmp_path / "an4"
    make_an4(corpus, with_test=True)
    wav = corpus / "wav"
    (wav / "an4_clstk" / "fbbh" / "an10-fbbh-b.raw").unlink()  # train
    (wav / "an4_clstk" / "fash" / "an1-fash-b.raw").write_bytes(b"\x01\x02\x03")  # dev: odd size
    (wav / "an4test_clstk" / "fcaw" / "an400-fcaw-b.raw").write_bytes(b"")  # test: empty
    out = an4.prepare(corpus, tmp_path / "data", expected=an4_expected(True))  # counts: of the files found
    assert {n: len(DataDir.load(out[n]).utt2spk) for n in ("train", "dev", "test")} == {"train": 17, "dev": 3,
                                                                                         "test": 2}
    problems = {n: (out[n] / "log" / "prepare_report.txt").read_text().splitlines()[1:]
                for n in ("train", "dev", "test")}
    assert problems == {
        "train": [f"{corpus}/etc/an4_train.fileids:3: missing audio: no such audio file "
                  f"{corpus}/wav/an4_clstk/fbbh/an10-fbbh-b.raw"],
        "dev": [f"{corpus}/wav/an4_clstk/fash/an1-fash-b.raw: truncated audio: 3 bytes is not a whole number of "
                "16-bit samples"],
        "test": [f"{corpus}/wav/an4test_clstk/fcaw/an400-fcaw-b.raw: empty audio: 0 bytes is not a whole number "
                 "of 16-bit samples"]}
    assert set(DataDir.load(out["dev"]).spk2utt) == {"fash", "mwhw"}  # the dev rule does not move
    with pytest.raises(DataError, match=r"an1-fash-b\.raw: 3 bytes is not a whole number of 16-bit samples"):
        an4.prepare(corpus, tmp_path / "d2", expected=None, strict=True)


def test_an4_cli_error_is_one_line(tmp_path):
    make_an4(tmp_path / "an4", with_test=True)
    r = subprocess.run([sys.executable, "-m", "data_prep.an4", "--corpus-dir", str(tmp_path / "an4"),
                        "--data-dir", str(tmp_path / "data")], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "expected 850 utterances" in r.stderr


def test_find_corpus_downloads_and_unpacks(tmp_path, monkeypatch):
    make_an4(tmp_path / "src" / "an4", with_test=False)
    archive = tmp_path / "an4_raw.bigendian.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "an4", arcname="an4")
    monkeypatch.delenv("ASR_CORPORA", raising=False)
    dl = tmp_path / "downloads"
    root = find_corpus("an4", None, "etc/an4_train.transcription", archive.as_uri(), dl, "an4")
    assert root == (dl / "an4" / "an4").resolve() and (root / "wav" / "an4_clstk" / "fash").is_dir()
    # found again without a URL
    assert find_corpus("an4", None, "etc/an4_train.transcription", None, dl, "an4") == root


FSDD_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "yweweler", "theo"]


def make_fsdd(root: Path, speakers) -> dict[str, int]:
    """FSDD layout, digits 0-2 x indexes 0-1 per speaker; returns {our utt id: samples}."""
    (root / "recordings").mkdir(parents=True)
    lengths = {}
    for s, spk in enumerate(speakers):
        for digit in range(3):
            for idx in range(2):
                n = 800 + 80 * digit + 8 * idx + s
                sf.write(root / "recordings" / f"{digit}_{spk}_{idx}.wav", pcm(n), 8000, subtype="PCM_16")
                lengths[f"{spk}-{digit}_{idx}"] = n
    return lengths


def test_fsdd(tmp_path):
    lengths = make_fsdd(tmp_path / "fsdd", FSDD_SPEAKERS)
    out = fsdd.prepare(tmp_path / "fsdd", tmp_path / "data", per_speaker=6)
    dirs = {name: DataDir.load(p) for name, p in out.items()}
    assert {n: set(d.spk2utt) for n, d in dirs.items()} == {
        "train": {"george", "jackson", "lucas", "nicolas"}, "dev": {"yweweler"}, "test": {"theo"}}
    assert sorted(u for d in dirs.values() for u in d.utt2spk) == sorted(lengths)
    d = dirs["train"]
    assert d.text["george-2_1"] == "TWO" and d.text["lucas-0_0"] == "ZERO"
    assert all(u.startswith(s + "-") for u, s in d.utt2spk.items())
    assert d.utt2dur["lucas-1_0"] == pytest.approx(lengths["lucas-1_0"] / 8000, abs=1e-3)
    assert len(load_audio(d.wav_scp["lucas-1_0"])) == lengths["lucas-1_0"]


def test_fsdd_without_sixth_speaker_and_counts(tmp_path):
    make_fsdd(tmp_path / "fsdd", FSDD_SPEAKERS[:5])
    out = fsdd.prepare(tmp_path / "fsdd", tmp_path / "data", dev_speaker="george", per_speaker=6)
    assert set(out) == {"train", "dev"} and not (tmp_path / "data" / "test").exists()
    assert set(DataDir.load(out["dev"]).spk2utt) == {"george"}
    with pytest.raises(DataError, match="expected 500 recordings per speaker"):
        fsdd.prepare(tmp_path / "fsdd", tmp_path / "d2")
    (tmp_path / "fsdd" / "recordings" / "x_george_1.wav").write_bytes(b"")
    out = fsdd.prepare(tmp_path / "fsdd", tmp_path / "d3", per_speaker=None)  # listed and left out
    assert "x_george_1.wav: unexpected file name" in (out["train"] / "log" / "prepare_report.txt").read_text()
    with pytest.raises(DataError, match=r"x_george_1\.wav: unexpected file name"):
        fsdd.prepare(tmp_path / "fsdd", tmp_path / "d4", per_speaker=None, strict=True)


def make_librispeech(root: Path, layout) -> dict[str, tuple[str, np.ndarray]]:
    """LibriSpeech layout {subset: {spk: [chapter...]}}, two utterances per chapter; {utt: (text, samples)}."""
    truth = {}
    for subset, speakers in layout.items():
        for spk, chapters in speakers.items():
            for ch in chapters:
                d = root / subset / spk / ch
                d.mkdir(parents=True)
                lines = []
                for n in range(2):
                    utt, x = f"{spk}-{ch}-{n:04d}", pcm(1600 + 160 * n)
                    sf.write(d / f"{utt}.flac", x, 16000, subtype="PCM_16")
                    truth[utt] = (f"HELLO WORLD {n}" if n else "IT'S A TEST", x)
                    lines.append(f"{utt} {truth[utt][0]}\n")
                (d / f"{spk}-{ch}.trans.txt").write_text("".join(lines))
    return truth


def test_librispeech(tmp_path):
    root = tmp_path / "LibriSpeech"
    truth = make_librispeech(root, {"dev-clean": {"84": ["121123", "121550"], "174": ["50561"]},
                                    "test-clean": {"1089": ["134686"]}})
    out = librispeech.prepare(root, tmp_path / "data", ["dev-clean", "test-clean"],
                              expected={"dev-clean": 6, "test-clean": 2})
    assert set(out) == {"dev_clean", "test_clean"}
    d = DataDir.load(tmp_path / "data" / "dev_clean")
    assert d.utt_ids == sorted(u for u in truth if not u.startswith("1089"))
    assert d.utt2spk["84-121550-0001"] == "84" and set(d.spk2utt) == {"84", "174"}
    assert d.text["174-50561-0000"] == "IT'S A TEST" and d.text["84-121123-0001"] == "HELLO WORLD 1"
    assert d.utt2dur["84-121123-0001"] == pytest.approx(0.11)
    np.testing.assert_array_equal(load_audio(d.wav_scp["174-50561-0001"]), truth["174-50561-0001"][1] / 32768.0)
    with pytest.raises(DataError, match="dev_clean: expected 2703 utterances"):
        librispeech.prepare(root, tmp_path / "d2", ["dev-clean"])


def test_librispeech_errors(tmp_path):
    root = tmp_path / "LibriSpeech"
    make_librispeech(root, {"dev-clean": {"84": ["121123"]}, "dev-other": {"84": ["5000"]}})
    with pytest.raises(DataError, match="speaker '84' is in both dev_clean and dev_other"):
        librispeech.prepare(root, tmp_path / "d1", ["dev-clean", "dev-other"], expected=None)
    (root / "dev-clean" / "84" / "121123" / "84-121123-0001.flac").unlink()
    with pytest.raises(DataError, match=r"84-121123\.trans\.txt:2: no audio file"):
        librispeech.prepare(root, tmp_path / "d2", ["dev-clean"], expected=None, strict=True)
    sf.write(root / "dev-other" / "84" / "5000" / "84-5000-0009.flac", pcm(100), 16000)
    with pytest.raises(DataError, match=r"84-5000-0009\.flac: no transcript line"):
        librispeech.prepare(root, tmp_path / "d3", ["dev-other"], expected=None, strict=True)
    out = {**librispeech.prepare(root, tmp_path / "d4", ["dev-clean"], expected={"dev-clean": 2}),  # files found
           **librispeech.prepare(root, tmp_path / "d5", ["dev-other"], expected={"dev-other": 2})}
    report = {n: (p / "log" / "prepare_report.txt").read_text().splitlines()[1:] for n, p in out.items()}
    assert report == {"dev_clean": [f"{root}/dev-clean/84/121123/84-121123.trans.txt:2: missing audio: no audio "
                                    f"file {root}/dev-clean/84/121123/84-121123-0001.flac"],
                      "dev_other": [f"{root}/dev-other/84/5000/84-5000-0009.flac: no transcript: no transcript line "
                                    "(1 such files)"]}


CORPORA = Path(os.environ.get("ASR_CORPORA", "/nonexistent"))


@pytest.mark.skipif(not (CORPORA / "an4").is_dir() or not (CORPORA / "fsdd").is_dir(),
                    reason="needs the corpus mirror: set ASR_CORPORA")
def test_real_an4_and_fsdd(tmp_path):
    for name in ("an4", "fsdd"):
        r = subprocess.run([sys.executable, "-m", f"data_prep.{name}", "--corpus-dir", str(CORPORA / name),
                            "--data-dir", str(tmp_path / name)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    n = {f"{c}/{s}": len(DataDir.load(tmp_path / c / s).utt2spk) for c in ("an4", "fsdd") for s in ("train", "dev")
         if (tmp_path / c / s).exists()}
    assert n["an4/train"] + n["an4/dev"] == 948 and n["an4/dev"] == 98
    assert n["fsdd/train"] + n["fsdd/dev"] == 2500 and n["fsdd/dev"] == 500
    if not (CORPORA / "an4" / "etc" / "an4_test.fileids").exists():
        assert not (tmp_path / "an4" / "test").exists()
