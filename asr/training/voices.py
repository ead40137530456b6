"""Speaker augmentation on a batch of log-mel (fbank) features: new voices and rooms without new audio.

Each is a feature-domain approximation of a change to the waveform, cheap enough to draw per utterance per
batch (no extra feature extraction), and each draws from the batch's generator (asr.training.loader), so a
seed gives the same batches however a run is resumed:

- VTLP (Jaitly & Hinton 2013): a per-utterance warp factor a, uniform in [1 - vtlp, 1 + vtlp], of the frequency
  axis, piecewise linear as Kaldi's VTLN warp (`VtlnWarpFreq`, cut-offs 100 Hz and Nyquist - 500 Hz). Kaldi
  warps the mel filters (filter k then sums the spectrum around warp(f_k)); here the log-mel bins are resampled
  at warp(f_k) by linear interpolation between neighbouring bins, which is the same up to the filters' width.
- gain and spectral tilt: a per-utterance offset, uniform in +-gain_db, plus a linear ramp over the mel bins
  from -t/2 (lowest bin) to +t/2 (highest), t uniform in +-tilt_db (a microphone's or a voice's slope).
- additive noise at a random SNR, in the power domain: log(exp(x) + n), n a stationary noise of a random colour
  (white, pink 1/f or brown 1/f^2 power over linear frequency, integrated over each mel filter's band) with a
  log-normal fluctuation per frame and bin, scaled so that its mean mel-bin power is the utterance's (over its
  own frames) divided by 10^(SNR/10), SNR uniform in [noise_snr_min, noise_snr_max] dB; with probability
  noise_prob per utterance.
"""

from __future__ import annotations

import math

import torch

COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # the exponent b of power ~ 1/f^b
DB = math.log(10.0) / 10.0  # dB of power -> natural log units (Kaldi's fbank is the natural log of power)
NOISE_SIGMA = 0.5  # the log-normal fluctuation of the noise per frame and bin (natural log units)


def mel(f):
    return 1127.0 * torch.log(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def inverse_mel(m):
    return 700.0 * (torch.exp(torch.as_tensor(m, dtype=torch.float64) / 1127.0) - 1.0)


class MelAxis:
    """The mel filterbank's frequencies as Kaldi places them: `num_bins` filters, evenly spaced in mel between
    low_freq and high_freq (<= 0: Nyquist + high_freq), each spanning its neighbours' centres."""

    def __init__(self, num_bins: int, sample_rate: float, low_freq: float = 20.0, high_freq: float = 0.0):
        nyquist = sample_rate / 2.0
        self.low, self.high = float(low_freq), float(high_freq if high_freq > 0 else nyquist + high_freq)
        self.num_bins = num_bins
        self.mel_low, self.mel_high = mel(self.low), mel(self.high)
        self.delta = (self.mel_high - self.mel_low) / (num_bins + 1)
        k = torch.arange(num_bins + 2, dtype=torch.float64)
        self.edges = inverse_mel(self.mel_low + k * self.delta)  # filter k spans edges[k] .. edges[k + 2]
        self.centres = self.edges[1:-1]
        self.vtln_low, self.vtln_high = 100.0, nyquist - 500.0

    def warp(self, freqs: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """Kaldi's VtlnWarpFreq: (K,) frequencies, (N,) factors -> (N, K) warped frequencies."""
        f, a = freqs[None, :], factor.to(torch.float64)[:, None]
        lo, hi = self.vtln_low * torch.clamp(a, min=1.0), self.vtln_high * torch.clamp(a, max=1.0)
        scale = 1.0 / a
        left = self.low + (scale * lo - self.low) / (lo - self.low) * (f - self.low)
        right = self.high + (self.high - scale * hi) / (self.high - hi) * (f - self.high)
        out = torch.where(f < lo, left, torch.where(f < hi, scale * f, right))
        return torch.where((f < self.low) | (f > self.high), f.expand_as(out), out)

    def positions(self, factor: torch.Tensor) -> torch.Tensor:
        """(N,) warp factors -> (N, K) fractional bin indices at which each utterance's warped bins sit."""
        pos = (mel(self.warp(self.centres, factor)) - self.mel_low) / self.delta - 1.0
        return pos.clamp(0, self.num_bins - 1).float()

    def noise_spectrum(self, exponent: float) -> torch.Tensor:
        """(K,) mean-1 mel-bin power of a noise with power ~ 1/f^exponent: the triangle filter's integral,
        approximated as its band (half the span) times the power at its centre."""
        band = (self.edges[2:] - self.edges[:-2]) / 2.0
        power = band * self.centres.clamp(min=1.0) ** -exponent
        return (power / power.mean()).float()


def warp_bins(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(N, T, K) features resampled along K at (N, K) fractional positions (linear interpolation)."""
    lo = positions.floor().long().clamp(max=x.shape[2] - 1)
    hi = (lo + 1).clamp(max=x.shape[2] - 1)
    w = (positions - lo.to(positions.dtype)).to(x.dtype)[:, None, :]
    t = x.shape[1]
    a = torch.gather(x, 2, lo[:, None, :].expand(-1, t, -1).to(x.device))
    b = torch.gather(x, 2, hi[:, None, :].expand(-1, t, -1).to(x.device))
    return a + w.to(x.device) * (b - a)


def uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def augment_voices(x: torch.Tensor, lengths: torch.Tensor, axis: MelAxis, cfg, generator=None) -> torch.Tensor:
    """(N, T, K) log-mel features -> the same with cfg's (asr.training.augment.AugmentConfig) VTLP, gain and
    tilt, and noise; an augmentation at 0 strength draws nothing and changes nothing."""
    n, t, k = x.shape
    if n == 0 or t == 0:
        return x
    if cfg.vtlp > 0:
        x = warp_bins(x, axis.positions(uniform(n, 1.0 - cfg.vtlp, 1.0 + cfg.vtlp, generator)))
    if cfg.gain_db > 0 or cfg.tilt_db > 0:
        offset = torch.zeros(n, k, dtype=torch.float64)
        if cfg.gain_db > 0:
            offset += uniform(n, -cfg.gain_db, cfg.gain_db, generator)[:, None]
        if cfg.tilt_db > 0:
            ramp = torch.linspace(-0.5, 0.5, k, dtype=torch.float64) if k > 1 else torch.zeros(1, dtype=torch.float64)
            offset += uniform(n, -cfg.tilt_db, cfg.tilt_db, generator)[:, None] * ramp[None, :]
        x = x + (offset * DB).to(x.dtype).to(x.device)[:, None, :]
    if cfg.noise_prob > 0:
        x = add_noise(x, lengths, axis, cfg, generator)
    return x


def add_noise(x: torch.Tensor, lengths: torch.Tensor, axis: MelAxis, cfg, generator=None) -> torch.Tensor:
    n, t, k = x.shape
    colours = [c.strip() for c in cfg.noise_colours.split(",") if c.strip()]
    chosen = torch.rand(n, generator=generator) < cfg.noise_prob
    snr = uniform(n, cfg.noise_snr_min, cfg.noise_snr_max, generator)
    colour = torch.randint(len(colours), (n,), generator=generator)
    fluct = torch.randn(n, t, k, generator=generator) * NOISE_SIGMA - NOISE_SIGMA ** 2 / 2  # mean 1 in power
    spectra = torch.stack([axis.noise_spectrum(COLOURS[c]) for c in colours]).log()  # (C, K)
    valid = (torch.arange(t)[None, :] < lengths.cpu()[:, None]).to(torch.float64)  # (N, T)
    power = (x.detach().cpu().double().exp().mean(2) * valid).sum(1) / valid.sum(1).clamp(min=1)  # (N,)
    level = power.clamp(min=1e-20).log() - snr * DB  # the noise's mean mel-bin power, natural log
    log_noise = (level[:, None, None] + spectra[colour][:, None, :] + fluct).to(x.dtype).to(x.device)
    return torch.where(chosen.to(x.device)[:, None, None], torch.logaddexp(x, log_noise), x)
