"""Kaldi fbank and MFCC through `torchaudio.compliance.kaldi`.

Kaldi reads 16-bit samples as integers, so samples in [-1, 1] are scaled by 32768 before analysis; with
that, our fbank equals Kaldi's `compute-fbank-feats` (and kaldi-native-fbank) with the same options.

Deliberate deviations from Kaldi's defaults, all in `FeatureConfig`:
- `dither` is 0.0 by default (Kaldi: 1.0); when set, the Gaussian noise comes from a fixed seed and is added to
  the waveform (Kaldi draws fresh noise for each frame), so features stay reproducible bit for bit. Dither
  matters for recordings with digital silence (exact zeros), whose log-mel energies otherwise sit at the floor;
- `energy_floor` is 0.0 with `use_energy` False (Kaldi's MFCC default is use_energy=True; ours is False);
- `num_mel_bins` defaults to 80 for fbank (Kaldi: 23), as end-to-end recipes use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from asr.config import section_from_dict

DITHER_SEED = 0


@dataclass
class FeatureConfig:
    """Options named as Kaldi's (`--num-mel-bins` -> num_mel_bins); `kind` is fbank or mfcc."""

    kind: str = "fbank"
    sample_rate: int = 16000
    num_mel_bins: int = 80
    num_ceps: int = 13  # mfcc only
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0
    preemphasis_coefficient: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0
    use_energy: bool = False
    energy_floor: float = 0.0
    snip_edges: bool = True
    window_type: str = "povey"

    def __post_init__(self):
        if self.kind not in ("fbank", "mfcc"):
            raise ValueError(f"feature kind must be fbank or mfcc, not {self.kind!r}")

    @property
    def dim(self) -> int:
        return (self.num_mel_bins if self.kind == "fbank" else self.num_ceps) + int(self.use_energy)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        return section_from_dict(cls, d, "feature")


def compute_features(samples: np.ndarray | torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """Features of mono samples in [-1, 1] at `config.sample_rate`: float32 tensor (T, dim)."""
    wave = torch.as_tensor(samples, dtype=torch.float32).reshape(1, -1) * 32768.0
    if config.dither:
        noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(DITHER_SEED))
        wave = wave + config.dither * noise
    common = dict(
        sample_frequency=config.sample_rate, frame_length=config.frame_length_ms, frame_shift=config.frame_shift_ms,
        dither=0.0, preemphasis_coefficient=config.preemphasis_coefficient, low_freq=config.low_freq,
        high_freq=config.high_freq, use_energy=config.use_energy, energy_floor=config.energy_floor,
        snip_edges=config.snip_edges, window_type=config.window_type, num_mel_bins=config.num_mel_bins,
    )
    from torchaudio.compliance import kaldi

    min_len = int(config.sample_rate * config.frame_length_ms / 1000)
    if wave.shape[1] < min_len:  # shorter than one frame: Kaldi gives no frames
        return torch.zeros(0, config.dim)
    if config.kind == "fbank":
        return kaldi.fbank(wave, **common)
    return kaldi.mfcc(wave, num_ceps=config.num_ceps, **common)


class FeatureExtractor(torch.nn.Module):
    """Module wrapper: samples (num_samples,) -> features (T, dim)."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self.config = config

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        return compute_features(samples, self.config)
