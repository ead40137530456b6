"""asr.audio: files, headerless raw PCM, Kaldi pipes, mixing down, resampling, cutting, errors."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from asr.audio import RawFormat, duration_s, load_audio, read_audio
from asr.errors import AudioError
from helpers.audio import tone

SR = 16000


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(), SR, subtype="PCM_16")
    return path


@pytest.mark.parametrize("fmt,subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("wav", "FLOAT")])
def test_file_reads_back_equal(tmp_path, fmt, subtype):
    x = tone(channels=1)
    path = tmp_path / f"a.{fmt}"
    sf.write(path, x, SR, subtype=subtype)
    data, sr = read_audio(str(path))
    assert sr == SR and data.dtype == np.float32 and data.shape == x.shape
    np.testing.assert_allclose(data, x, atol=1e-6)
    y = load_audio(str(path))
    assert y.shape == (len(x),) and y.flags.c_contiguous
    assert duration_s(str(path)) == pytest.approx(0.5)


def write_raw_be(tmp_path):
    x = tone()
    path = tmp_path / "a.raw"
    path.write_bytes(np.round(x * 32768).astype(">i2").tobytes())
    return path, x


def test_big_endian_raw(tmp_path):
    path, x = write_raw_be(tmp_path)
    y = load_audio(str(path), raw=RawFormat(SR, endian="BIG"))
    np.testing.assert_allclose(y, x, atol=1e-6)
    wrong = load_audio(str(path), raw=RawFormat(SR))  # little-endian reading of the same bytes is noise
    assert np.abs(wrong - x).max() > 0.1


def test_sox_pipe_read_natively(tmp_path, monkeypatch):
    path, x = write_raw_be(tmp_path)
    spec = f"sox -t raw -r 16000 -e signed-integer -b 16 -B -c 1 {path} -t wav - |"

    def no_process(*a, **k):
        raise AssertionError("the sox pipe must be read without running a process")

    monkeypatch.setattr(subprocess, "run", no_process)
    np.testing.assert_allclose(load_audio(spec), x, atol=1e-6)
    assert duration_s(spec) == pytest.approx(0.5)
    with pytest.raises(AudioError, match="missing.raw"):
        load_audio(spec.replace(str(path), str(tmp_path / "missing.raw")))


def test_generic_pipe(wav):
    np.testing.assert_allclose(load_audio(f"cat {wav} |"), load_audio(str(wav)))


def test_stereo_mixed_down(tmp_path):
    x = tone(channels=2)
    path = tmp_path / "stereo.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    assert read_audio(str(path))[0].shape == (len(x), 2)
    np.testing.assert_allclose(load_audio(str(path)), x.mean(axis=1), atol=1e-6)


def test_resample_8k_to_16k(tmp_path):
    path = tmp_path / "8k.wav"
    x = tone(seconds=0.3, sr=8000, freq=300.0)
    sf.write(path, x, 8000, subtype="FLOAT")
    y = load_audio(str(path), sample_rate=16000)
    assert len(y) == 2 * len(x)
    # still a 300 Hz tone: the spectrum peaks at 300 Hz
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(y)))] - 300) < 5


def test_segment_cut(wav):
    full = load_audio(str(wav))
    np.testing.assert_array_equal(load_audio(str(wav), start_s=0.1, end_s=0.3), full[1600:4800])
    np.testing.assert_array_equal(load_audio(str(wav), start_s=0.25), full[4000:])
    np.testing.assert_array_equal(load_audio(str(wav), start_s=0.25, end_s=-1), full[4000:])  # Kaldi: -1 = to end
    for start, end in [(0.6, None), (0.3, 0.2), (-0.1, 0.2)]:
        with pytest.raises(AudioError, match="a.wav.*outside"):
            load_audio(str(wav), start_s=start, end_s=end)


def test_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 20)
    cases = {
        str(tmp_path / "missing.wav"): "missing.wav",
        str(empty): "empty.wav",
        str(text): "notes.wav",
        f"cat {tmp_path / 'gone.wav'} |": "gone.wav",
        f"{sys.executable} -c 'import sys; sys.exit(3)' {tmp_path / 'x.wav'} |": "x.wav.*exit 3",
    }
    for spec, pattern in cases.items():
        with pytest.raises(AudioError, match=pattern):
            load_audio(spec)
        with pytest.raises(AudioError, match=pattern):
            duration_s(spec)
