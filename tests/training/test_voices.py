"""Speaker augmentation (asr.training.voices) through SpecAugment: shapes, identity at zero strength, one draw per
generator, what each does to log-mel bins, and batches that stay the same however they are made (resume)."""

from __future__ import annotations

import math

import pytest
import torch

from asr.data.dataset import FeatureDataset
from asr.errors import ConfigError
from asr.features.kaldi import FeatureConfig
from asr.text.tokenizer import CharTokenizer
from asr.training.augment import AugmentConfig, SpecAugment
from asr.training.loader import BatchLoader, batch_generator
from asr.training.voices import MelAxis, warp_bins
from helpers.training import DIM, make_data

FEATS = FeatureConfig(sample_rate=8000, num_mel_bins=40)
ALL = dict(vtlp=0.1, gain_db=6, tilt_db=10, noise_prob=1.0, noise_snr_min=0, noise_snr_max=20)


def batch(n=4, t=60, d=40):
    torch.manual_seed(0)
    return torch.randn(n, t, d) + 5, torch.tensor([t, t // 2, 7, 1][:n])


def augment(cfg: AugmentConfig, x, lengths, seed=1):
    return SpecAugment(cfg, features=FEATS).train()(x, lengths, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("options", [dict(vtlp=0.1), dict(gain_db=6), dict(tilt_db=10), dict(noise_prob=1.0), ALL])
def test_shape_finite_changed_and_deterministic_per_generator(options):
    x, lengths = batch()
    cfg = AugmentConfig(**options)
    y = augment(cfg, x, lengths)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert not torch.equal(y, x)
    assert torch.equal(y, augment(cfg, x, lengths))  # the same generator seed: the same batch
    assert not torch.equal(y, augment(cfg, x, lengths, seed=2))


def test_zero_strength_is_identity_and_masks_are_unchanged_by_voices():
    x, lengths = batch()
    assert torch.equal(augment(AugmentConfig(vtlp=0, gain_db=0, tilt_db=0, noise_prob=0), x, lengths), x)
    masks = AugmentConfig(freq_masks=2, freq_width=8, time_masks=1, time_width=10)
    plain = augment(masks, x, lengths)
    with_gain = augment(AugmentConfig(**{**masks.__dict__, "gain_db": 6.0}), x, lengths)
    assert torch.equal(plain == 0, with_gain == 0)  # the voices draw after the masks: the same cells masked


def test_vtlp_identity_at_factor_one_and_a_monotone_warp():
    axis = MelAxis(40, 8000)
    pos = axis.positions(torch.tensor([0.9, 1.0, 1.1]))
    assert torch.allclose(pos[1], torch.arange(40.0), atol=1e-4)
    assert (pos[0] >= pos[1] - 1e-4).all() and (pos[2] <= pos[1] + 1e-4).all()  # 0.9 reads higher bins
    assert (pos.diff(dim=1) > 0).all()
    x = torch.randn(3, 5, 40)
    assert torch.allclose(warp_bins(x, pos)[1], x[1], atol=1e-4)


def test_gain_and_tilt_are_an_offset_and_a_ramp():
    x, lengths = batch()
    diff = augment(AugmentConfig(gain_db=6), x, lengths) - x
    assert torch.allclose(diff, diff[:, :1, :1].expand_as(diff), atol=1e-5)  # one offset per utterance
    assert (diff[:, 0, 0].abs() <= 6 * math.log(10) / 10 + 1e-5).all()
    diff = augment(AugmentConfig(tilt_db=10), x, lengths) - x
    steps = diff[:, 0].diff(dim=1)  # a linear ramp over the bins, centred
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-5)
    assert torch.allclose(diff[:, 0].mean(1), torch.zeros(4), atol=1e-5)


def test_noise_only_raises_power_and_low_snr_raises_it_more():
    x, lengths = batch()
    lo = augment(AugmentConfig(noise_prob=1.0, noise_snr_min=0, noise_snr_max=0), x, lengths)
    hi = augment(AugmentConfig(noise_prob=1.0, noise_snr_min=30, noise_snr_max=30), x, lengths)
    assert (lo >= x).all() and (hi >= x).all()
    assert (lo - x).mean() > (hi - x).mean() > 0
    none = augment(AugmentConfig(noise_prob=1e-9), x, lengths)
    assert torch.equal(none, x)


def test_bad_options_and_features():
    for bad in (dict(vtlp=1.5), dict(gain_db=-1), dict(noise_prob=2), dict(noise_snr_min=5, noise_snr_max=0),
                dict(noise_colours="blue")):
        with pytest.raises(ConfigError, match="augment"):
            AugmentConfig.from_dict(bad)
    with pytest.raises(ConfigError, match="fbank"):
        SpecAugment(AugmentConfig(vtlp=0.1), features=FeatureConfig(kind="mfcc"))
    SpecAugment(AugmentConfig(freq_masks=1), features=FeatureConfig(kind="mfcc"))  # masks: any features


def test_loader_batches_with_voices_do_not_depend_on_order_or_thread(tmp_path):
    """Each batch from its own generator: made in another order, in a thread or in a new loader (a resumed
    run), a batch is the same, bit for bit."""
    data = FeatureDataset(make_data(tmp_path, "train", 8, seed=3), CharTokenizer.build(["a b"]))
    features = FeatureConfig(sample_rate=8000, num_mel_bins=DIM)
    aug = SpecAugment(AugmentConfig(freq_masks=1, freq_width=4, **ALL), features=features).train()
    order = [(0, [0, 1, 2]), (1, [3, 4]), (2, [5, 6, 7])]
    with BatchLoader(data, aug, seed=7, background=True) as loader:
        forward = list(loader.epoch(1, order))
    with BatchLoader(data, aug, seed=7, background=False) as loader:
        backward = list(loader.epoch(1, order[::-1]))[::-1]
    for a, b, (index, indices) in zip(forward, backward, order):
        assert torch.equal(a.feats, b.feats)
        ref = data.collate(indices)
        assert torch.equal(a.feats, aug(ref.feats, ref.lengths, batch_generator(7, 1, index)))
