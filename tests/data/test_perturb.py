"""Speed perturbation and resampled (narrowband) copies: Kaldi's sox stage in wav.scp, read natively (resampling),
ids prefixed, durations scaled (speed) or kept (rate)."""

import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr.audio import duration_s, load_audio, load_audio_as_recorded, sox_effect_stage
from asr.cli import app
from asr.data.datadir import DataDir
from asr.data.perturb import perturb_speed, resample_data_dir, sox_wav, speed_wav
from asr.errors import DataError
from helpers.audio import tone

SR = 16000


@pytest.fixture
def data_dir(tmp_path):
    """Two utterances: a wav file, and a raw big-endian file behind AN4's sox pipe."""
    a = tmp_path / "a.wav"
    sf.write(a, tone(1.0), SR, subtype="PCM_16")
    raw = tmp_path / "b.raw"
    raw.write_bytes(np.round(tone(0.5, freq=880.0) * 32767).astype(">i2").tobytes())
    d = DataDir(wav_scp={"s1-a": str(a),
                         "s2-b": f"sox -t raw -r 16000 -e signed-integer -b 16 -B -c 1 {raw} -t wav - |"},
                utt2spk={"s1-a": "s1", "s2-b": "s2"}, text={"s1-a": "YES", "s2-b": "NO NO"},
                utt2dur={"s1-a": 1.0, "s2-b": 0.5})
    return d.save(tmp_path / "train")


def test_three_way_copy_ids_and_durations(data_dir, tmp_path):
    out = perturb_speed(data_dir, tmp_path / "train_sp", (0.9, 1.0, 1.1))
    d = DataDir.load(out)
    assert sorted(d.utt2spk) == sorted(["s1-a", "s2-b", "sp0.9-s1-a", "sp0.9-s2-b", "sp1.1-s1-a", "sp1.1-s2-b"])
    assert d.utt2spk["sp0.9-s1-a"] == "sp0.9-s1" and d.utt2spk["s1-a"] == "s1"
    assert d.text["sp1.1-s2-b"] == "NO NO"
    assert d.utt2dur["sp0.9-s1-a"] == pytest.approx(1.0 / 0.9, abs=1e-3)
    assert d.utt2dur["sp1.1-s2-b"] == pytest.approx(0.5 / 1.1, abs=1e-3)
    assert d.wav_scp["sp0.9-s2-b"].endswith("-t wav - | sox -t wav - -t wav - speed 0.9 |")
    assert d.wav_scp["sp1.1-s1-a"].startswith("sox -t wav ") and d.wav_scp["sp1.1-s1-a"].endswith("speed 1.1 |")


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_length_scales_by_inverse_factor_without_sox(data_dir, tmp_path, monkeypatch, factor):
    out = DataDir.load(perturb_speed(data_dir, tmp_path / "sp", (factor,)))

    def no_process(*a, **k):
        raise AssertionError("a speed stage must be read without running sox")

    monkeypatch.setattr(subprocess, "run", no_process)
    for utt, src_len in (("s1-a", SR), ("s2-b", SR // 2)):
        y = load_audio(out.wav_scp[f"sp{factor:g}-{utt}"])
        assert abs(len(y) - src_len / factor) <= 1
        assert duration_s(out.wav_scp[f"sp{factor:g}-{utt}"]) == pytest.approx(src_len / factor / SR, abs=1e-4)


def test_speed_changes_pitch_like_resampling(data_dir, tmp_path):
    """sox `speed 1.1` raises a 440 Hz tone to 484 Hz (tempo and pitch together)."""
    y = load_audio(speed_wav(str(tmp_path / "a.wav"), 1.1))
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak = np.argmax(spectrum) * SR / len(y)
    assert peak == pytest.approx(484, abs=3)


def test_resampled_copy_is_narrowband(tmp_path, monkeypatch):
    """`asr data resample` at 8 kHz: ids and speakers prefixed `rate8000-`, durations kept, read without sox at
    8 kHz; taken back to 16 kHz (as `asr feats` at 16 kHz does) a 440 Hz tone is kept and a 6 kHz one is gone."""
    a = tmp_path / "a.wav"
    low, high = tone(1.0), tone(1.0, freq=6000.0)
    sf.write(a, 0.5 * (low + high), SR, subtype="PCM_16")
    src = DataDir(wav_scp={"s1-a": str(a)}, utt2spk={"s1-a": "s1"}, text={"s1-a": "YES"},
                  utt2dur={"s1-a": 1.0}).save(tmp_path / "train")
    result = CliRunner().invoke(app, ["data", "resample", str(src), str(tmp_path / "nb"), "--rate", "8000"])
    assert result.exit_code == 0, result.output
    d = DataDir.load(tmp_path / "nb")
    assert d.utt2spk == {"rate8000-s1-a": "rate8000-s1"} and d.text == {"rate8000-s1-a": "YES"}
    assert d.utt2dur == {"rate8000-s1-a": 1.0}
    spec = d.wav_scp["rate8000-s1-a"]
    assert spec.endswith("-t wav - rate 8000 |") and sox_effect_stage(spec) == (str(a), "rate", 8000.0)

    def no_process(*a, **k):
        raise AssertionError("a rate stage must be read without running sox")

    monkeypatch.setattr(subprocess, "run", no_process)
    y, rate, _ = load_audio_as_recorded(spec)
    assert rate == 8000 and abs(len(y) - 8000) <= 1
    back = load_audio(spec, sample_rate=SR)[1000:-1000]  # the copy at 16 kHz, edges of the filters left out
    spectrum = np.abs(np.fft.rfft(back * np.hanning(len(back))))
    freqs = np.fft.rfftfreq(len(back), 1 / SR)
    assert spectrum[np.abs(freqs - 440) < 20].max() > 1000 * spectrum[np.abs(freqs - 6000) < 20].max()
    with pytest.raises(DataError, match="must differ"):
        resample_data_dir(src, src, 8000)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
@pytest.mark.parametrize("effect", ["speed 0.9", "speed 1.1", "rate 8000"])
def test_matches_sox(data_dir, effect):
    """Sample by sample against sox itself, for the wav file and the raw-PCM pipe. The resampling filters differ
    (torchaudio's windowed sinc, sox's `rate`) and sox dithers its 16-bit output: measured with sox 14.4.2, the
    waveforms are at most 0.0026 apart and the difference is 66 dB or more below the signal. Linear
    interpolation (0.004 to 0.044 apart), torchaudio's sinc cut to 2 zero crossings (0.007 to 0.011) and one
    sample of delay (0.08 to 0.19) all fail these bounds."""
    for spec in DataDir.load(data_dir).wav_scp.values():
        spec = sox_wav(spec, effect)
        ours = load_audio(spec)
        sox = subprocess.run(spec[:-1], shell=True, capture_output=True, check=True).stdout
        theirs, _ = sf.read(io.BytesIO(sox), dtype="float32")
        assert abs(len(ours) - len(theirs)) <= 2
        n = min(len(ours), len(theirs))
        diff = ours[:n] - theirs[:n]
        assert np.abs(diff).max() < 0.005, spec
        assert np.sqrt(np.mean(diff ** 2)) < 1e-3 * np.sqrt(np.mean(theirs[:n] ** 2)), spec  # 60 dB


def test_speed_stage_parsing():
    assert sox_effect_stage("cat x.wav | sox -t wav - -t wav - speed 0.9 |") == ("cat x.wav |", "speed", 0.9)
    assert sox_effect_stage("sox -t wav /a/b.wav -t wav - speed 1.1 |") == ("/a/b.wav", "speed", 1.1)
    assert sox_effect_stage("cat x.wav | sox -t wav - -t wav - tempo 0.9 |") is None
    assert sox_effect_stage("/a/b.wav") is None
    assert sox_effect_stage("cat x.wav | sox -t wav - -t wav - rate 8000 |") == ("cat x.wav |", "rate", 8000.0)
    assert sox_effect_stage("cat x.wav | sox -t wav - -t wav - rate 8000.5 |") is None


def test_bad_factors(data_dir, tmp_path):
    with pytest.raises(DataError, match="distinct"):
        perturb_speed(data_dir, tmp_path / "sp", (0.9, 0.9))
    with pytest.raises(DataError, match="positive"):
        perturb_speed(data_dir, tmp_path / "sp", (0.0,))
    with pytest.raises(DataError, match="must differ"):
        perturb_speed(data_dir, data_dir, (0.9,))


def test_segments_recordings_prefixed_and_times_scaled(tmp_path):
    a = tmp_path / "rec.wav"
    sf.write(a, tone(2.0), SR, subtype="PCM_16")
    d = DataDir(wav_scp={"rec": str(a)}, utt2spk={"s1-u1": "s1", "s1-u2": "s1"}, text={"s1-u1": "A", "s1-u2": "B"})
    from asr.data.datadir import Segment

    d.segments = {"s1-u1": Segment("rec", 0.0, 1.0), "s1-u2": Segment("rec", 1.0, 2.0)}
    src = d.save(tmp_path / "src")
    out = DataDir.load(perturb_speed(src, tmp_path / "sp", (1.0, 0.8)))
    assert set(out.wav_scp) == {"rec", "sp0.8-rec"}
    seg = out.segments["sp0.8-s1-u2"]
    assert seg.recording_id == "sp0.8-rec" and seg.start_s == pytest.approx(1.25) and seg.end_s == pytest.approx(2.5)
    utt = next(u for u in out.utterances() if u.utt_id == "sp0.8-s1-u2")
    assert len(load_audio(utt.wav, SR, utt.start_s, utt.end_s)) == pytest.approx(1.25 * SR, abs=2)
