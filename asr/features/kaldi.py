"""Kaldi fbank and MFCC: `compute_features`, equal to `torchaudio.compliance.kaldi` (run as
`bench.baselines.compute_features_reference`) within float rounding and about twice as fast (analysis tables
built once).

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
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from asr.config import section_from_dict

DITHER_SEED = 0
KINDS = ("fbank", "mfcc")
WINDOWS = ("povey", "hamming", "hanning", "rectangular", "blackman")  # Kaldi's --window-type


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
        if self.kind not in KINDS:
            raise ValueError(f"feature kind must be fbank or mfcc, not {self.kind!r}")

    @property
    def dim(self) -> int:
        return (self.num_mel_bins if self.kind == "fbank" else self.num_ceps) + int(self.use_energy)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        return section_from_dict(cls, d, "feature", choices={"kind": KINDS, "window_type": WINDOWS})


def compute_features(samples: np.ndarray | torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """Features of mono samples in [-1, 1] at `config.sample_rate`: float32 tensor (T, dim).

    Kaldi's algorithm (as `torchaudio.compliance.kaldi`, equal to it within float rounding, tested), with the
    window, mel filters and DCT built once per configuration and every frame processed in one batch: frames as
    a strided view, DC removal, pre-emphasis and windowing as whole-matrix ops, one real FFT, one matrix product
    with the mel filters."""
    wave = torch.as_tensor(samples, dtype=torch.float32).reshape(-1) * 32768.0
    if config.dither:
        noise = torch.randn(wave.shape, generator=torch.Generator().manual_seed(DITHER_SEED))
        wave = wave + config.dither * noise
    a = _analysis(_key(config))
    frames = _frames(wave, a.window_size, a.window_shift, config.snip_edges)
    if frames is None:  # shorter than one frame: Kaldi gives no frames
        return torch.zeros(0, config.dim)
    return frames_to_features(frames, config)


def frames_to_features(frames: torch.Tensor, config: FeatureConfig) -> torch.Tensor:
    """(m, window_size) frames of (scaled, dithered) samples -> (m, dim) features; each frame on its own, so
    frames cut as audio arrives (asr.features.online) give the features of the whole recording."""
    a = _analysis(_key(config))
    m = frames.shape[0]
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove_dc_offset
    if config.use_energy:  # raw energy: after DC removal, before pre-emphasis and the window
        energy = _log_energy(frames, config.energy_floor)
    buf = torch.zeros(m, a.padded_size)  # the windowed frames, zero padded to the FFT size
    framed = buf[:, :a.window_size]
    coeff = config.preemphasis_coefficient
    if coeff:
        torch.sub(frames[:, 1:], frames[:, :-1], alpha=coeff, out=framed[:, 1:])
        torch.mul(frames[:, :1], 1.0 - coeff, out=framed[:, :1])
        framed.mul_(a.window)
    else:
        torch.mul(frames, a.window, out=framed)
    spectrum = torch.fft.rfft(buf)
    power = (spectrum * spectrum.conj()).real  # |X|^2, (m, padded_size / 2 + 1)
    feats = torch.mm(power, a.mel_t).clamp_min_(EPSILON).log_()  # (m, num_mel_bins)
    if config.kind == "mfcc":
        feats = torch.mm(feats, a.dct).mul_(a.lifter)
        if config.use_energy:
            feats[:, 0] = energy
        return feats
    if config.use_energy:
        feats = torch.cat([energy[:, None], feats], dim=1)
    return feats


EPSILON = float(torch.finfo(torch.float32).eps)


@dataclass(frozen=True)
class _Analysis:
    window_size: int
    window_shift: int
    padded_size: int
    window: torch.Tensor  # (window_size,)
    mel_t: torch.Tensor  # (padded_size / 2 + 1, num_mel_bins): mel filters, transposed, 0 for the Nyquist bin
    centres: torch.Tensor  # (num_mel_bins,): each mel filter's centre frequency, Hz
    dct: torch.Tensor | None  # mfcc: (num_mel_bins, num_ceps)
    lifter: torch.Tensor | None  # mfcc: (num_ceps,)


def _key(config: FeatureConfig) -> tuple:
    return tuple(getattr(config, f.name) for f in dataclasses.fields(config))


@functools.lru_cache(maxsize=16)
def _analysis(key: tuple) -> _Analysis:
    """Window, mel filters and DCT of a configuration (as torchaudio's `fbank`/`mfcc` build them per call)."""
    from torchaudio.compliance import kaldi

    config = FeatureConfig(*key)
    shift = int(config.sample_rate * config.frame_shift_ms * 0.001)
    size = int(config.sample_rate * config.frame_length_ms * 0.001)
    padded = 1 if size == 0 else 2 ** (size - 1).bit_length()
    window = kaldi._feature_window_function(config.window_type, size, 0.42, torch.device("cpu"), torch.float32)
    mel, centres = kaldi.get_mel_banks(config.num_mel_bins, padded, config.sample_rate, config.low_freq,
                                       config.high_freq, 100.0, -500.0, 1.0)
    mel_t = torch.nn.functional.pad(mel.float(), (0, 1)).T.contiguous()
    dct = lifter = None
    if config.kind == "mfcc":
        dct = kaldi._get_dct_matrix(config.num_ceps, config.num_mel_bins).float()
        lifter = kaldi._get_lifter_coeffs(config.num_ceps, 22.0).float()
    return _Analysis(size, shift, padded, window, mel_t, centres.flatten().double(), dct, lifter)


def mel_centres(config: FeatureConfig) -> torch.Tensor:
    """The centre frequencies (Hz) of a configuration's mel filters, as Kaldi places them."""
    return _analysis(_key(config)).centres


def _frames(wave: torch.Tensor, size: int, shift: int, snip_edges: bool) -> torch.Tensor | None:
    """(num_frames, size) strided view of the samples (Kaldi's framing; snip_edges False reflects the ends)."""
    n = wave.shape[0]
    if snip_edges:
        if n < size:
            return None
        m = 1 + (n - size) // shift
    else:
        m = (n + shift // 2) // shift
        if m == 0 or n < size:  # as the reference: Kaldi gives no frames below one frame length
            return None
        rev = torch.flip(wave, [0])
        pad = size // 2 - shift // 2
        wave = torch.cat((rev[-pad:], wave, rev)) if pad > 0 else torch.cat((wave[-pad:], rev))
    return wave.as_strided((m, size), (shift, 1))


def _log_energy(frames: torch.Tensor, energy_floor: float) -> torch.Tensor:
    energy = frames.pow(2).sum(1).clamp_min_(EPSILON).log_()
    return energy.clamp_min_(math.log(energy_floor)) if energy_floor != 0.0 else energy


class FeatureExtractor(torch.nn.Module):
    """Module wrapper: samples (num_samples,) -> features (T, dim)."""

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self.config = config

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        return compute_features(samples, self.config)
