"""The NumPy fbank/MFCC of the runtime (asr.runtime.features) equal asr.features.kaldi's within 1e-4
(fbank; MFCC within float32 rounding of its larger values)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from asr.features.kaldi import FeatureConfig
from asr.features.kaldi import compute_features as torch_features
from asr.runtime.features import compute_features

CONFIGS = [
    FeatureConfig(),
    FeatureConfig(sample_rate=8000, num_mel_bins=40, snip_edges=False, window_type="hamming"),
    FeatureConfig(kind="mfcc", use_energy=True, energy_floor=1.0),
    FeatureConfig(num_mel_bins=23, preemphasis_coefficient=0.0, window_type="blackman", use_energy=True,
                  high_freq=-400.0),
    FeatureConfig(kind="mfcc", sample_rate=8000, num_mel_bins=23, window_type="hanning", snip_edges=False),
    FeatureConfig(sample_rate=8000, num_mel_bins=64, frame_length_ms=10.0),  # 64 FFT bins: two empty filters
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.kind}-{c.sample_rate}-{c.window_type}")
def test_numpy_features_equal_ours(cfg):
    rng = np.random.default_rng(0)
    t = np.arange(cfg.sample_rate) / cfg.sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    ref = torch_features(samples, cfg).numpy()
    ours = compute_features(samples, dataclasses.asdict(cfg))
    assert ours.shape == ref.shape and ours.dtype == np.float32
    # fbank: within 1e-4; MFCC (values to ~60, sums of 80 float32 products): within 1e-5 of the largest value
    tolerance = 1e-4 if cfg.kind == "fbank" else 1e-5 * np.abs(ref).max()
    assert np.abs(ours - ref).max() < tolerance


def test_shorter_than_one_frame_gives_no_frames():
    assert compute_features(np.zeros(100, np.float32), dataclasses.asdict(FeatureConfig())).shape == (0, 80)
