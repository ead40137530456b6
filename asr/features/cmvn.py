"""Cepstral mean and variance normalisation with Kaldi's statistics layout.

Stats are a (2, D+1) float64 matrix, as `compute-cmvn-stats` writes: row 0 = [sum x_d ..., count],
row 1 = [sum x_d^2 ..., 0]. They add up, so global stats are the sum of per-speaker stats.
"""

from __future__ import annotations

import numpy as np
import torch


def accumulate_stats(feats: np.ndarray | torch.Tensor, stats: np.ndarray | None = None) -> np.ndarray:
    """Add one utterance (T, D) into Kaldi CMVN stats (2, D+1); a new matrix when `stats` is None."""
    x = np.asarray(feats, dtype=np.float64)
    d = x.shape[1]
    if stats is None:
        stats = np.zeros((2, d + 1), dtype=np.float64)
    stats[0, :d] += x.sum(axis=0)
    stats[1, :d] += (x * x).sum(axis=0)
    stats[0, d] += x.shape[0]
    return stats


def mean_and_std(stats: np.ndarray, floor: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    d = stats.shape[1] - 1
    count = stats[0, d]
    if count <= 0:
        raise ValueError("CMVN stats have zero count")
    mean = stats[0, :d] / count
    var = np.maximum(stats[1, :d] / count - mean * mean, floor)
    return mean, np.sqrt(var)


def speaker_normaliser(stats: np.ndarray, norm_vars: bool, std_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) as float32 from one speaker's stats: std floored at `std_floor` with `norm_vars`, else all ones
    (Kaldi's apply-cmvn with and without --norm-vars)."""
    mean, std = mean_and_std(np.asarray(stats, dtype=np.float64))
    std = np.maximum(std, std_floor) if norm_vars else np.ones_like(std)
    return mean.astype(np.float32), std.astype(np.float32)


class CMVN(torch.nn.Module):
    """Applies fixed (global) CMVN to (..., T, D) features: (x - mean) / std (Kaldi `apply-cmvn --norm-vars`)."""

    def __init__(self, stats: np.ndarray, norm_vars: bool = True):
        super().__init__()
        mean, std = mean_and_std(stats)
        self.register_buffer("shift", torch.tensor(-mean, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(1.0 / std if norm_vars else np.ones_like(std), dtype=torch.float32))

    @classmethod
    def identity(cls, dim: int) -> "CMVN":
        stats = np.zeros((2, dim + 1))
        stats[0, dim] = stats[1, :dim] = 1.0
        return cls(stats)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats + self.shift) * self.scale
