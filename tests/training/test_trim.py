"""Edge trimming (augment.trim_prob / trim_frames): each trimmed utterance is a contiguous slice of itself, shorter
by at most trim_frames at each end, long enough for CTC; off, nothing is drawn and nothing changes."""

import pytest
import torch

from asr.errors import ConfigError
from asr.training.augment import AugmentConfig, SpecAugment


def test_trim_keeps_a_slice_within_bounds_and_enough_frames_for_ctc():
    torch.manual_seed(0)
    lengths = torch.tensor([40, 30, 12, 25])
    feats = torch.randn(4, 40, 5) * (torch.arange(40)[None, :, None] < lengths[:, None, None])
    target_lengths = torch.tensor([3, 2, 3, 1])  # the third: 12 frames < 3 * (3 + 1) once trimmed at all
    aug = SpecAugment(AugmentConfig(trim_prob=1.0, trim_frames=6), subsample=3).train()
    out, new = aug.trim(feats, lengths, target_lengths, torch.Generator().manual_seed(1))
    assert new[2] == 12 and torch.equal(out[2], feats[2])
    assert (new <= lengths).all() and (new >= lengths - 12).all() and (new < lengths).any()
    for i in range(4):
        n = int(new[i])
        assert n >= 3 * (int(target_lengths[i]) + 1) or n == lengths[i]
        starts = [s for s in range(int(lengths[i]) - n + 1) if torch.equal(out[i, :n], feats[i, s:s + n])]
        assert starts and starts[0] <= 6 and int(lengths[i]) - n - starts[0] <= 6
        assert not out[i, n:].any()


def test_trim_off_draws_nothing_and_eval_does_nothing():
    feats, lengths, targets = torch.randn(2, 20, 4), torch.tensor([20, 15]), torch.tensor([2, 2])
    g = torch.Generator().manual_seed(5)
    state = g.get_state()
    out, new = SpecAugment(AugmentConfig()).train().trim(feats, lengths, targets, g)
    assert out is feats and new is lengths and torch.equal(g.get_state(), state)
    out, new = SpecAugment(AugmentConfig(trim_prob=1.0)).eval().trim(feats, lengths, targets, g)
    assert out is feats and torch.equal(g.get_state(), state)
    with pytest.raises(ConfigError, match="trim_prob"):
        AugmentConfig.from_dict({"trim_prob": 1.5})
