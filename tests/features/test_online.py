"""Online features (asr.features.online): computed as audio arrives, equal to the offline features."""

import numpy as np
import pytest
import torch

from asr.features.kaldi import FeatureConfig, compute_features
from asr.features.online import OnlineFeatures


def online(samples: np.ndarray, config: FeatureConfig, rng: np.random.Generator) -> torch.Tensor:
    feats, stream, pos = [], OnlineFeatures(config), 0
    while pos < len(samples):
        k = int(rng.integers(0, 900))
        feats.append(stream.accept(samples[pos:pos + k]))
        pos += k
    return torch.cat(feats + [stream.finish()])


@pytest.mark.parametrize("kind,snip_edges,dither", [("fbank", True, 0.0), ("fbank", False, 0.0), ("mfcc", True, 0.0),
                                                    ("fbank", True, 1.0), ("fbank", False, 1.0)])
@pytest.mark.parametrize("length", [399, 561, 7000, 16000])
def test_streamed_features_equal_offline(kind, snip_edges, dither, length):
    rng = np.random.default_rng(length)
    samples = (rng.standard_normal(length) * 0.1).astype(np.float32)
    if dither:
        samples[: length // 2] = 0.0  # digital silence: the dither noise is all there is
    config = FeatureConfig(kind=kind, snip_edges=snip_edges, num_mel_bins=23, dither=dither)
    expected = compute_features(samples, config)
    for seed in range(3):
        got = online(samples, config, np.random.default_rng(seed))
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=2e-4, rtol=1e-4)


def test_frames_come_as_soon_as_complete():
    stream = OnlineFeatures(FeatureConfig())
    assert stream.accept(np.zeros(399, np.float32)).shape[0] == 0
    assert stream.accept(np.zeros(1, np.float32)).shape[0] == 1  # 400 samples: one 25 ms frame
    assert stream.accept(np.zeros(160, np.float32)).shape[0] == 1
    assert stream.buf.numel() <= 1200  # only about one frame's samples are kept
