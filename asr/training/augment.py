"""SpecAugment (Park et al. 2019) frequency and time masks on a training batch, through torchaudio's masks.

Each utterance gets its own masks, drawn within its own length (padding is never counted as time to mask).
Features here are raw (global CMVN is inside the model), so masking happens around a `center`, the training
set's mean: a masked cell becomes the mean, i.e. 0 after CMVN, as masking normalised features with 0 does.
Time warping is not done (its gain is small, Park et al. 2019 Table 4). Only training batches are augmented:
`SpecAugment` is an nn.Module and does nothing in eval mode.

Config (`augment:` section of the training YAML; all counts 0 = off):
    freq_masks: 2, freq_width: 27      up to `freq_width` mel bins per mask (LibriSpeech "LD" policy)
    time_masks: 2, time_width: 40      up to `time_width` frames per mask ...
    time_max_ratio: 0.2                ... and at most this fraction of the utterance per mask
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio.transforms as T

from asr.config import section_from_dict
from asr.errors import ConfigError


@dataclass
class AugmentConfig:
    freq_masks: int = 0
    freq_width: int = 27
    time_masks: int = 0
    time_width: int = 40
    time_max_ratio: float = 0.2

    @classmethod
    def from_dict(cls, d: dict | None) -> "AugmentConfig":
        cfg = section_from_dict(cls, d, "augment")
        if min(cfg.freq_masks, cfg.time_masks, cfg.freq_width, cfg.time_width) < 0 or not 0 < cfg.time_max_ratio <= 1:
            raise ConfigError(f"bad augment options: {cfg}")
        return cfg

    @property
    def enabled(self) -> bool:
        return (self.freq_masks > 0 and self.freq_width > 0) or (self.time_masks > 0 and self.time_width > 0)


class SpecAugment(torch.nn.Module):
    """(N, T, D) features with lengths (N,) -> the same, masked (a new tensor) in training mode."""

    def __init__(self, cfg: AugmentConfig, center: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        self.freq = T.FrequencyMasking(cfg.freq_width) if cfg.freq_masks and cfg.freq_width else None
        self.time_masks = cfg.time_masks if cfg.time_width else 0
        self.register_buffer("center", torch.zeros(0) if center is None else center.detach().clone().float())

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.cfg.enabled:
            return feats
        out = feats.clone()
        center = self.center if self.center.numel() else torch.zeros(feats.shape[-1], device=feats.device)
        for i, n in enumerate(lengths.tolist()):
            if n == 0:
                continue
            x = (out[i, :n] - center).T  # (D, T): torchaudio's (..., freq, time)
            for _ in range(self.cfg.freq_masks if self.freq is not None else 0):
                x = self.freq(x)
            width = min(self.cfg.time_width, int(self.cfg.time_max_ratio * n))
            if width > 0:
                mask = T.TimeMasking(width)
                for _ in range(self.time_masks):
                    x = mask(x)
            out[i, :n] = x.T + center
        return out
