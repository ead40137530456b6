"""Features: equality with kaldi-native-fbank, the ark/scp stage, CMVN statistics."""

from __future__ import annotations

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import load_audio
from asr.data.datadir import DataDir
from asr.features.cmvn import CMVN, accumulate_stats, mean_and_std
from asr.features.extract import compute_cmvn_stats, global_cmvn_stats, load_feats_config, make_feats
from asr.features.kaldi import FeatureConfig, compute_features
from bench.baselines import kaldi_native_fbank_options


def knf_fbank(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    import kaldi_native_fbank as knf

    opts = kaldi_native_fbank_options(cfg)
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(cfg.sample_rate, (samples * 32768).tolist())
    fb.input_finished()
    return np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])


@pytest.mark.parametrize("bins", [23, 40])
def test_fbank_equals_kaldi_native_fbank(yesno_dir, bins):
    wav = yesno_dir / "0_0_0_0_1_1_1_1.wav"
    cfg = FeatureConfig(sample_rate=8000, num_mel_bins=bins)
    samples = load_audio(str(wav), 8000)
    ours = compute_features(samples, cfg).numpy()
    ref = knf_fbank(samples, cfg)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-3


def test_fbank_equals_knf_on_16k_tone(tone_wav):
    cfg = FeatureConfig(sample_rate=16000, num_mel_bins=80)
    samples = load_audio(str(tone_wav), 16000)
    ours = compute_features(samples, cfg).numpy()
    assert ours.shape == (98, 80)  # Kaldi snip_edges: 1 + (16000 - 400) // 160
    assert np.abs(ours - knf_fbank(samples, cfg)).max() < 1e-3


def test_mfcc_shape_and_short_input():
    cfg = FeatureConfig(kind="mfcc", sample_rate=16000, num_ceps=13)
    assert compute_features(np.zeros(16000, np.float32) + 0.01, cfg).shape == (98, 13)
    assert compute_features(np.zeros(100, np.float32), cfg).shape == (0, 13)
    with pytest.raises(ValueError):
        FeatureConfig(kind="plp")


def test_cmvn_stats_match_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(3, 2, (50, 4)), rng.normal(3, 2, (70, 4))
    stats = accumulate_stats(b, accumulate_stats(a))
    mean, std = mean_and_std(stats)
    both = np.concatenate([a, b])
    assert stats[0, 4] == 120
    assert np.allclose(mean, both.mean(0)) and np.allclose(std, both.std(0))
    normed = CMVN(stats)(torch.tensor(both, dtype=torch.float32)).numpy()
    assert np.allclose(normed.mean(0), 0, atol=1e-5) and np.allclose(normed.std(0), 1, atol=1e-4)


def _data_dir(tmp_path, n=6):
    rng = np.random.default_rng(2)
    d = DataDir(text={})
    for i in range(n):
        path = tmp_path / "audio" / f"u{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, 0.1 * rng.standard_normal(8000 + 800 * i), 16000, subtype="PCM_16")
        utt = f"spk{i % 2}-u{i}"
        d.wav_scp[utt], d.text[utt], d.utt2spk[utt] = str(path), "A B", f"spk{i % 2}"
    return d.save(tmp_path / "data")


def test_make_feats_parallel_equals_serial_and_kaldi_readable(tmp_path):
    data = _data_dir(tmp_path)
    cfg = FeatureConfig(num_mel_bins=23)
    make_feats(data, cfg, tmp_path / "f1", nj=1, progress=False)
    serial = dict(kaldiio.load_scp(str(data / "feats.scp")))
    serial = {k: np.array(v) for k, v in serial.items()}
    make_feats(data, cfg, tmp_path / "f2", nj=2, progress=False)
    parallel = kaldiio.load_scp(str(data / "feats.scp"))
    assert sorted(parallel) == sorted(serial) and len(serial) == 6
    for k in serial:
        assert np.array_equal(parallel[k], serial[k])
        assert serial[k].shape[1] == 23
    assert load_feats_config(data) == cfg
    assert (data / "utt2num_frames").read_text().count("\n") == 6
    # CMVN: one entry per speaker; global stats are the sum
    compute_cmvn_stats(data, tmp_path / "f2")
    cmvn = kaldiio.load_scp(str(data / "cmvn.scp"))
    assert sorted(cmvn) == ["spk0", "spk1"]
    total = global_cmvn_stats(data)
    frames = sum(m.shape[0] for m in serial.values())
    assert total[0, -1] == frames
    assert np.allclose(total[0, :-1], sum(m.sum(0) for m in serial.values()), rtol=1e-6)


def test_make_feats_names_unreadable_audio(tmp_path):
    data = _data_dir(tmp_path, n=2)
    (tmp_path / "audio" / "u1.wav").write_text("not audio")
    from asr.errors import DataError

    with pytest.raises(DataError, match="u1.wav"):
        make_feats(data, FeatureConfig(), tmp_path / "f", progress=False, strict=True)
    assert not (data / "feats.scp").exists()


def test_make_feats_resamples_mixed_rates_and_channels_and_says_so(tmp_path):
    """A data dir of 48 kHz stereo, 44.1 kHz, 8 kHz and 16 kHz recordings: all become 16 kHz mono features (each
    as the one resampled by hand would give), the conversions are counted once, and upsampling is a warning."""
    from typer.testing import CliRunner

    from asr.cli import app
    from helpers.audio import tone

    formats = {"a48": (48000, 2), "b48": (48000, 2), "c48": (48000, 1), "d44": (44100, 1), "e8": (8000, 1),
               "f16": (16000, 1), "g16": (16000, 1)}
    d = DataDir(text={})
    for name, (sr, ch) in formats.items():
        path = tmp_path / "audio" / f"{name}.flac"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, tone(0.6, sr, channels=ch if ch > 1 else None), sr)
        d.wav_scp[name], d.text[name], d.utt2spk[name] = str(path), "A", name
    data = d.save(tmp_path / "data")
    result = CliRunner().invoke(app, ["feats", str(data), "--feat-dir", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    expected = ["resampled 1 of 7 recordings from 44100 Hz to 16000 Hz",
                "resampled 3 of 7 recordings from 48000 Hz to 16000 Hz",
                "mixed down 2 of 7 recordings from 2 channels to mono"]
    for line in expected:
        assert result.stdout.count(f"{data}: {line}\n") == 1, result.stdout
    assert ("asr: warning: upsampled 1 of 7 recordings from 8000 Hz to 16000 Hz: they hold nothing above 4000 Hz"
            in result.stderr)
    notes = (data / "log" / "feats_audio.txt").read_text().splitlines()
    assert notes[1:] == expected and notes[0].startswith("warning: upsampled 1 of 7")  # by rate
    feats = kaldiio.load_scp(str(data / "feats.scp"))
    assert sorted(feats) == sorted(formats)
    cfg = FeatureConfig()
    for name in ("a48", "d44", "e8", "f16"):
        by_hand = compute_features(load_audio(d.wav_scp[name], 16000), cfg).numpy()
        np.testing.assert_allclose(feats[name], by_hand, rtol=1e-5, atol=1e-4)
    # a data dir of one rate: nothing converted, and said so
    mono = DataDir(wav_scp={"f16": d.wav_scp["f16"]}, text={"f16": "A"}, utt2spk={"f16": "s"}).save(tmp_path / "m")
    result = CliRunner().invoke(app, ["feats", str(mono), "--feat-dir", str(tmp_path / "f"), "--no-cmvn"])
    assert f"{mono}: all 1 recordings at 16000 Hz, mono: no conversion" in result.stdout
    assert "warning" not in result.stderr


def test_dither_is_reproducible_and_lifts_digital_silence():
    samples = np.zeros(8000, np.float32)
    samples[4000:] = 0.1 * np.sin(np.arange(4000) / 5)
    plain = FeatureConfig(sample_rate=8000, num_mel_bins=23)
    dithered = FeatureConfig(sample_rate=8000, num_mel_bins=23, dither=1.0)
    a, b = compute_features(samples, dithered), compute_features(samples, dithered)
    assert torch.equal(a, b)
    silent = compute_features(samples, plain)[:20]
    assert silent.max() < -15  # exact zeros sit at the log floor
    assert a[:20].min() > silent.max() + 5  # dither puts them near the level of 1-LSB noise
