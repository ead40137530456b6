"""Bootstrap statistics over utterances, as Kaldi's `compute-wer-bootci`.

Each replication draws as many utterances as the set has, with replacement, and computes
WER = 100 * sum(errors) / sum(ref words) over the draw. The interval is mean +- 1.96 standard deviations of the
replicated WERs (Kaldi's definition, not percentiles); the two-system probability is the share of replications
in which system B makes fewer errors than system A on the same draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SAMPLES = 10000
_CHUNK = 500


def _draws(n: int, samples: int, seed: int):
    rng = np.random.default_rng(seed)
    done = 0
    while done < samples:
        k = min(_CHUNK, samples - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


@dataclass
class BootstrapInterval:
    mean: float  # mean WER (%) over replications
    half_width: float  # 1.96 * standard deviation
    samples: int
    seed: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def line(self, label: str = "Set1") -> str:
        """Kaldi's line: `Set1: %WER 12.34 95% Conf Interval [ 10.11, 14.57 ]`."""
        return f"{label}: %WER {self.mean:.2f} 95% Conf Interval [ {self.low:.2f}, {self.high:.2f} ]"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "half_width": self.half_width,
                "confidence": 0.95, "samples": self.samples, "seed": self.seed,
                "method": "Kaldi compute-wer-bootci: mean +- 1.96 sd of utterance-resampled WER"}


def bootstrap_wer(errors, words, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> BootstrapInterval:
    """95% interval of the WER from per-utterance error and reference-word counts."""
    errors = np.asarray(errors, dtype=np.int64)
    words = np.asarray(words, dtype=np.int64)
    if errors.size == 0:
        return BootstrapInterval(0.0, 0.0, samples, seed)
    wers = []
    for idx in _draws(errors.size, samples, seed):
        e = errors[idx].sum(axis=1)
        w = words[idx].sum(axis=1)
        wers.append(np.where(w > 0, 100.0 * e / np.maximum(w, 1), np.where(e > 0, np.inf, 0.0)))
    wer = np.concatenate(wers)
    finite = wer[np.isfinite(wer)]
    if finite.size == 0:
        return BootstrapInterval(float("inf"), 0.0, samples, seed)
    mean = float(finite.mean())
    sd = float(np.sqrt(max((finite ** 2).mean() - mean ** 2, 0.0)))
    return BootstrapInterval(mean, 1.96 * sd, samples, seed)


def paired_bootstrap(errors_a, errors_b, samples: int = DEFAULT_SAMPLES, seed: int = 0) -> float:
    """Probability that system B improves on A: share of replications where B's errors < A's."""
    a = np.asarray(errors_a, dtype=np.int64)
    b = np.asarray(errors_b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError("paired bootstrap needs the same utterances for both systems")
    if a.size == 0:
        return 0.0
    diff = a - b
    better = 0
    for idx in _draws(diff.size, samples, seed):
        better += int((diff[idx].sum(axis=1) > 0).sum())
    return better / samples
