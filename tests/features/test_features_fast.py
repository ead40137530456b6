"""The fast feature path: `compute_features` equals torchaudio's Kaldi reference within float rounding (and is
as close to a float64 computation), and headerless 16-bit PCM is read exactly as libsndfile reads it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import RawFormat, read_audio
from asr.features.kaldi import FeatureConfig, compute_features
from bench.baselines import compute_features_reference

CONFIGS = [dict(kind=k, use_energy=e, snip_edges=s, preemphasis_coefficient=p, window_type=w)
           for k, e, s, p, w in itertools.product(["fbank", "mfcc"], [False, True], [True, False], [0.97, 0.0],
                                                  ["povey", "hamming"])]


@pytest.mark.parametrize("opts", CONFIGS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_fast_features_equal_reference(opts):
    rng = np.random.default_rng(0)
    for n in (399, 400, 401, 16000, 12345):
        x = (0.1 * rng.standard_normal(n)).astype(np.float32)
        for dither in (0.0, 1.0):
            cfg = FeatureConfig(dither=dither, num_mel_bins=40, **opts)
            ours, ref = compute_features(x, cfg), compute_features_reference(x, cfg)
            assert ours.shape == ref.shape and ours.dtype == torch.float32
            assert torch.allclose(ours, ref, atol=5e-3, rtol=1e-4)


@pytest.mark.parametrize("kind", ["fbank", "mfcc"])
def test_fast_features_as_accurate_as_reference(kind):
    from torchaudio.compliance import kaldi

    x = (0.1 * np.random.default_rng(1).standard_normal(16000)).astype(np.float32)
    cfg = FeatureConfig(kind=kind)
    exact = (kaldi.fbank if kind == "fbank" else kaldi.mfcc)(
        torch.tensor(x, dtype=torch.float64)[None] * 32768, num_mel_bins=80, energy_floor=0.0, dither=0.0)
    ours = (compute_features(x, cfg).double() - exact).abs().max()
    ref = (compute_features_reference(x, cfg).double() - exact).abs().max()
    assert ours < 2 * ref + 1e-5


@pytest.mark.parametrize("channels,endian", [(1, "BIG"), (1, "LITTLE"), (2, "BIG")])
def test_raw_pcm16_read_as_libsndfile(tmp_path, channels, endian):
    path = tmp_path / "x.raw"
    path.write_bytes(np.random.default_rng(2).integers(0, 256, 2001, dtype=np.uint8).tobytes())  # odd size
    raw = RawFormat(16000, "PCM_16", endian, channels)
    ours, sr = read_audio(str(path), raw)
    ref, _ = sf.read(path, dtype="float32", always_2d=True, format="RAW", subtype="PCM_16", endian=endian,
                     samplerate=16000, channels=channels)
    assert sr == 16000 and ours.dtype == ref.dtype and np.array_equal(ours, ref)
