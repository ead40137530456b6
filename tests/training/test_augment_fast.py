"""The batched SpecAugment draws the same masks as torchaudio's FrequencyMasking/TimeMasking applied utterance by
utterance (the former implementation, kept here as the reference) and leaves every other value as it was."""

from __future__ import annotations

import pytest
import torch
import torchaudio.transforms as T

from asr.training.augment import AugmentConfig, SpecAugment


def reference(cfg: AugmentConfig, center: torch.Tensor, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    out = feats.clone()
    freq = T.FrequencyMasking(cfg.freq_width) if cfg.freq_masks and cfg.freq_width else None
    for i, n in enumerate(lengths.tolist()):
        if n == 0:
            continue
        x = (out[i, :n] - center).T
        for _ in range(cfg.freq_masks if freq is not None else 0):
            x = freq(x)
        width = min(cfg.time_width, int(cfg.time_max_ratio * n))
        if width > 0:
            mask = T.TimeMasking(width)
            for _ in range(cfg.time_masks if cfg.time_width else 0):
                x = mask(x)
        out[i, :n] = x.T + center
    return out


@pytest.mark.parametrize("cfg", [
    AugmentConfig(freq_masks=2, freq_width=15, time_masks=2, time_width=20, time_max_ratio=0.2),
    AugmentConfig(freq_masks=0, time_masks=3, time_width=5, time_max_ratio=1.0),
    AugmentConfig(freq_masks=1, freq_width=4),
])
def test_same_masks_as_torchaudio_per_utterance(cfg):
    torch.manual_seed(0)
    center = torch.randn(40)
    aug = SpecAugment(cfg, center)
    x = torch.randn(6, 300, 40) + 10  # far from the center: a masked cell always changes
    lengths = torch.tensor([300, 10, 0, 1, 299, 150])
    for seed in range(10):
        torch.manual_seed(seed)
        ref, after_ref = reference(cfg, center, x, lengths), torch.rand(1)
        torch.manual_seed(seed)
        ours, after_ours = aug(x, lengths), torch.rand(1)
        assert torch.equal(after_ref, after_ours)  # the same random numbers drawn
        assert torch.equal((ref - x).abs() > 1e-5, ours != x)  # the same cells masked
        assert torch.allclose(ours, ref, atol=1e-5)
