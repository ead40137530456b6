"""Kaldi fbank and MFCC in NumPy: asr.features.kaldi's algorithm (Kaldi's, as torchaudio.compliance.kaldi) without
PyTorch, equal to it within 1e-4 (tests/runtime/test_features.py).

Options are asr.features.kaldi.FeatureConfig's, as a dict (an exported model's `asr.features` metadata).
"""

from __future__ import annotations

import functools
import math

import numpy as np

EPSILON = float(np.finfo(np.float32).eps)
DITHER_SEED = 0


def _window(kind: str, size: int) -> np.ndarray:
    n = np.arange(size, dtype=np.float64)
    a = 2 * math.pi / (size - 1) if size > 1 else 0.0
    if kind == "hanning":
        return 0.5 - 0.5 * np.cos(a * n)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(a * n)
    if kind == "povey":
        return (0.5 - 0.5 * np.cos(a * n)) ** 0.85
    if kind == "rectangular":
        return np.ones(size)
    if kind == "blackman":
        return 0.42 - 0.5 * np.cos(a * n) + 0.08 * np.cos(2 * a * n)
    raise ValueError(f"unknown window type {kind!r}")


def mel_banks(num_bins: int, padded: int, rate: float, low: float, high: float) -> np.ndarray:
    """Kaldi's triangular mel filters, (num_bins, padded / 2): no VTLN warping. In float32 with the operations
    in torchaudio's order, as asr.features.kaldi builds them: a narrow filter's weights are sensitive to that."""
    nyquist = 0.5 * rate
    if high <= 0.0:
        high += nyquist
    fft_bins = padded // 2
    mel_low, mel_high = 1127.0 * math.log(1.0 + low / 700.0), 1127.0 * math.log(1.0 + high / 700.0)
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = np.arange(num_bins, dtype=np.float32)[:, None]
    left, center, right = mel_low + b * delta, mel_low + (b + 1.0) * delta, mel_low + (b + 2.0) * delta
    freqs = (rate / padded) * np.arange(fft_bins, dtype=np.float32)
    mel = (1127.0 * np.log(1.0 + freqs / 700.0))[None, :]
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    return np.maximum(np.float32(0.0), np.minimum(up, down))


class _SparseMel:
    """power (m, K) -> mel energies (m, bins) without a matrix product: OpenBLAS runs a product that size on
    all cores, and on a busy machine its threads wait for them (60x slower measured, docs/deploy.md). A filter
    overlaps only its neighbours, so the even filters have disjoint supports, as have the odd ones: each parity
    is one weighted row and a segment sum (np.add.reduceat) over the filters' contiguous supports."""

    def __init__(self, mel: np.ndarray):
        self.bins = mel.shape[0]
        self.groups = []
        for parity in (0, 1):
            rows = np.arange(parity, self.bins, 2)
            if not len(rows):
                continue
            weights = mel[rows].sum(0).astype(np.float32)
            nonzero = [np.flatnonzero(mel[r]) for r in rows]
            empty = np.array([len(nz) == 0 for nz in nonzero])
            starts = np.zeros(len(rows), np.int64)
            nxt = mel.shape[1] - 1
            for i in range(len(rows) - 1, -1, -1):  # an empty filter starts where the next one does
                starts[i] = nonzero[i][0] if len(nonzero[i]) else nxt
                nxt = starts[i]
            self.groups.append((rows, weights, starts, empty))

    def apply(self, power: np.ndarray) -> np.ndarray:
        out = np.zeros((power.shape[0], self.bins), np.float32)
        for rows, weights, starts, empty in self.groups:
            sums = np.add.reduceat(power * weights, starts, axis=1)
            sums[:, empty] = 0.0
            out[:, rows] = sums
        return out


@functools.lru_cache(maxsize=16)
def _analysis(key: tuple):
    opts = dict(key)
    rate = opts["sample_rate"]
    shift = int(rate * opts["frame_shift_ms"] * 0.001)
    size = int(rate * opts["frame_length_ms"] * 0.001)
    padded = 1 if size == 0 else 2 ** (size - 1).bit_length()
    window = _window(opts["window_type"], size).astype(np.float32)
    mel = mel_banks(opts["num_mel_bins"], padded, rate, opts["low_freq"], opts["high_freq"])
    mel_t = _SparseMel(np.pad(mel, ((0, 0), (0, 1))))  # (bins, padded / 2 + 1), 0 for the Nyquist bin
    dct = lifter = None
    if opts["kind"] == "mfcc":
        bins, ceps = opts["num_mel_bins"], opts["num_ceps"]
        k = np.arange(bins, dtype=np.float64)[:, None]
        n = np.arange(bins, dtype=np.float64)[None, :]
        full = np.cos(math.pi / bins * (n + 0.5) * k) * math.sqrt(2.0 / bins)  # orthonormal DCT-II, (k, n)
        full[0] *= 1.0 / math.sqrt(2.0)
        dct = full.T.copy()
        dct[:, 0] = math.sqrt(1.0 / bins)
        dct = dct[:, :ceps].astype(np.float32)
        lifter = (1.0 + 0.5 * 22.0 * np.sin(math.pi * np.arange(ceps) / 22.0)).astype(np.float32)
    return size, shift, padded, window, mel_t, dct, lifter


def _frames(wave: np.ndarray, size: int, shift: int, snip_edges: bool) -> np.ndarray | None:
    n = wave.shape[0]
    if snip_edges:
        if n < size:
            return None
        m = 1 + (n - size) // shift
    else:
        m = (n + shift // 2) // shift
        if m == 0 or n < size:
            return None
        rev = wave[::-1]
        pad = size // 2 - shift // 2
        wave = np.concatenate((rev[-pad:], wave, rev)) if pad > 0 else np.concatenate((wave[-pad:], rev))
    wave = np.ascontiguousarray(wave)
    return np.lib.stride_tricks.as_strided(wave, (m, size), (shift * wave.itemsize, wave.itemsize))


def compute_features(samples: np.ndarray, opts: dict) -> np.ndarray:
    """Features (T, dim) float32 of mono samples in [-1, 1] at opts["sample_rate"] (asr.features.kaldi's)."""
    wave = np.asarray(samples, dtype=np.float32).reshape(-1) * np.float32(32768.0)
    if opts["dither"]:
        raise ValueError("dither needs PyTorch's generator to give the same features; export with dither 0")
    size, shift, padded, window, mel_t, dct, lifter = _analysis(tuple(sorted(opts.items())))
    dim = (opts["num_mel_bins"] if opts["kind"] == "fbank" else opts["num_ceps"]) + int(opts["use_energy"])
    frames = _frames(wave, size, shift, opts["snip_edges"])
    if frames is None:
        return np.zeros((0, dim), np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True, dtype=np.float32)
    energy = None
    if opts["use_energy"]:
        energy = np.log(np.maximum((frames * frames).sum(1), EPSILON))
        if opts["energy_floor"] != 0.0:
            energy = np.maximum(energy, math.log(opts["energy_floor"]))
    buf = np.zeros((frames.shape[0], padded), np.float32)
    coeff = np.float32(opts["preemphasis_coefficient"])
    if coeff:
        buf[:, 1:size] = frames[:, 1:] - coeff * frames[:, :-1]
        buf[:, 0] = frames[:, 0] * (np.float32(1.0) - coeff)
        buf[:, :size] *= window
    else:
        buf[:, :size] = frames * window
    spectrum = np.fft.rfft(buf)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    feats = np.log(np.maximum(mel_t.apply(power), EPSILON))
    if opts["kind"] == "mfcc":
        feats = (feats @ dct) * lifter
        if energy is not None:
            feats[:, 0] = energy
        return feats.astype(np.float32)
    if energy is not None:
        feats = np.concatenate([energy[:, None], feats], axis=1)
    return feats.astype(np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling through the FFT (not bit-equal to torchaudio's sinc filter, which the PyTorch path
    uses: features of resampled audio differ slightly between the two backends)."""
    if rate == target:
        return samples
    n = int(round(len(samples) * target / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = min(len(spectrum), n // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n) * (n / len(samples))
    return out.astype(np.float32)
