"""SpecAugment (Park et al. 2019) frequency and time masks on a training batch, as torchaudio's masks.

Each utterance gets its own masks, drawn within its own length (padding is never counted as time to mask).
Features here are raw (global CMVN is inside the model), so masking happens around a `center`, the training
set's mean: a masked cell becomes the mean, i.e. 0 after CMVN, as masking normalised features with 0 does.
Time warping is not done (its gain is small, Park et al. 2019 Table 4). Only training batches are augmented:
`SpecAugment` is an nn.Module and does nothing in eval mode.

Config (`augment:` section of the training YAML; all counts 0 = off):
    freq_masks: 2, freq_width: 27      up to `freq_width` mel bins per mask (LibriSpeech "LD" policy)
    time_masks: 2, time_width: 40      up to `time_width` frames per mask ...
    time_max_ratio: 0.2                ... and at most this fraction of the utterance per mask
Speaker augmentation (asr.training.voices; fbank features only; all 0 = off), applied before the masks:
    vtlp: 0.1                          VTLP warp factor uniform in [1 - vtlp, 1 + vtlp] per utterance
    gain_db: 10, tilt_db: 10           gain uniform in +-gain_db; a tilt over the mel bins of +-tilt_db
    noise_prob: 0.5                    additive noise on this fraction of utterances...
    noise_snr_min: 0, noise_snr_max: 20   ... at an SNR uniform in this range (dB) ...
    noise_colours: white,pink,brown    ... of one of these colours
Their draws come after the masks' from the same generator, so switching them on or off leaves the masks as
they were.
Edge trimming (SpecAugment.trim, before everything else; 0 = off):
    trim_prob: 0.5, trim_frames: 10    this fraction of utterances lose up to `trim_frames` frames at each end
                                       (as a tight endpointer cuts a word's weak first and last sounds), never so
                                       many that CTC could not fit the transcript
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from asr.config import section_from_dict
from asr.errors import ConfigError
from asr.training.voices import COLOURS, MelAxis, augment_voices


@dataclass
class AugmentConfig:
    freq_masks: int = 0
    freq_width: int = 27
    time_masks: int = 0
    time_width: int = 40
    time_max_ratio: float = 0.2
    vtlp: float = 0.0
    gain_db: float = 0.0
    tilt_db: float = 0.0
    noise_prob: float = 0.0
    noise_snr_min: float = 0.0
    noise_snr_max: float = 20.0
    noise_colours: str = "white,pink,brown"
    trim_prob: float = 0.0
    trim_frames: int = 10

    @classmethod
    def from_dict(cls, d: dict | None) -> "AugmentConfig":
        cfg = section_from_dict(cls, d, "augment")
        if min(cfg.freq_masks, cfg.time_masks, cfg.freq_width, cfg.time_width) < 0 or not 0 < cfg.time_max_ratio <= 1:
            raise ConfigError(f"bad augment options: {cfg}")
        if not 0 <= cfg.trim_prob <= 1 or cfg.trim_frames < 0:
            raise ConfigError(f"bad augment options (trim_prob in [0, 1], trim_frames >= 0): {cfg}")
        colours = [c.strip() for c in cfg.noise_colours.split(",") if c.strip()]
        if (not 0 <= cfg.vtlp < 1 or min(cfg.gain_db, cfg.tilt_db) < 0 or not 0 <= cfg.noise_prob <= 1
                or cfg.noise_snr_min > cfg.noise_snr_max or not colours or set(colours) - set(COLOURS)):
            raise ConfigError(f"bad augment options (vtlp in [0, 1), gain_db and tilt_db >= 0, noise_prob in [0, 1], "
                              f"noise_snr_min <= noise_snr_max, noise_colours of {', '.join(COLOURS)}): {cfg}")
        return cfg

    @property
    def voices(self) -> bool:
        """Whether any speaker augmentation (asr.training.voices) is on."""
        return self.vtlp > 0 or self.gain_db > 0 or self.tilt_db > 0 or self.noise_prob > 0

    def check_features(self, features) -> None:
        """Speaker augmentation works on log-mel bins: a ConfigError for other features (MFCC, energy)."""
        if self.voices and (features.kind != "fbank" or features.use_energy):
            raise ConfigError("augment: vtlp, gain_db, tilt_db and noise_prob work on fbank features without "
                              f"energy; these are {features.kind}{' with energy' if features.use_energy else ''}")

    @property
    def enabled(self) -> bool:
        return ((self.freq_masks > 0 and self.freq_width > 0) or (self.time_masks > 0 and self.time_width > 0)
                or self.voices)


class SpecAugment(torch.nn.Module):
    """(N, T, D) features with lengths (N,) -> the same, masked (a new tensor) in training mode.

    The masks are torchaudio's `FrequencyMasking`/`TimeMasking` applied utterance by utterance, drawn from the
    same random numbers in the same order (`_bounds`), so a seed gives the same masks as before; they are applied to
    the whole batch at once (one `where`) instead of a few small tensor ops per utterance and mask. `generator`:
    draw from it instead of torch's global generator (training gives each batch its own, asr.training.loader).
    `features`: the features' settings (asr.features.kaldi.FeatureConfig), needed by speaker augmentation;
    `subsample`: the model's frame subsampling (edge trimming leaves enough frames for CTC)."""

    def __init__(self, cfg: AugmentConfig, center: torch.Tensor | None = None, features=None, subsample: int = 1):
        super().__init__()
        self.cfg = cfg
        self.subsample = subsample
        self.axis = None
        if cfg.voices:
            if features is None:
                raise ConfigError("augment: speaker augmentation needs the features' settings")
            cfg.check_features(features)
            self.axis = MelAxis(features.num_mel_bins, features.sample_rate, features.low_freq, features.high_freq)
        self.freq_masks = cfg.freq_masks if cfg.freq_width else 0
        self.time_masks = cfg.time_masks if cfg.time_width else 0
        self.register_buffer("center", torch.zeros(0) if center is None else center.detach().clone().float())

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or not self.cfg.enabled:
            return feats
        n, t, d = feats.shape
        freq, time = self._bounds(lengths.tolist(), d, generator)
        if self.axis is not None:
            feats = augment_voices(feats, lengths, self.axis, self.cfg, generator)
        valid = torch.arange(t)[None, :] < lengths.cpu()[:, None]
        mask = (_spans(freq, d)[:, None, :] & valid[:, :, None]) | _spans(time, t)[:, :, None]
        center = self.center if self.center.numel() else torch.zeros(d, device=feats.device)
        return torch.where(mask.to(feats.device), center.to(feats.dtype), feats)

    def trim(self, feats: torch.Tensor, lengths: torch.Tensor, target_lengths: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge trimming in training mode: each utterance, with probability trim_prob, loses a number of frames
        uniform in [0, trim_frames] at its start and at its end, as long as at least subsample * (target length
        + 1) frames are left (subsample: the model's; else it is kept whole). Returns new (features, lengths);
        nothing is drawn when it is off."""
        cfg = self.cfg
        if not self.training or cfg.trim_prob <= 0 or cfg.trim_frames <= 0:
            return feats, lengths
        n, t, _ = feats.shape
        draws = torch.rand(n, 3, generator=generator)
        cut = (draws[:, 1:] * (cfg.trim_frames + 1)).long().clamp(max=cfg.trim_frames)  # (N, 2): start, end
        lens = lengths.cpu()
        keep = lens - cut.sum(1)
        use = (draws[:, 0] < cfg.trim_prob) & (keep >= self.subsample * (target_lengths.cpu() + 1))
        start = torch.where(use, cut[:, 0], 0)
        new_lengths = torch.where(use, keep, lens)
        index = (start[:, None] + torch.arange(t)[None, :]).clamp(max=t - 1)
        out = feats.gather(1, index.to(feats.device)[:, :, None].expand_as(feats))
        valid = (torch.arange(t)[None, :] < new_lengths[:, None]).to(feats.device)[:, :, None]
        return out * valid, new_lengths.to(lengths.device)

    def _bounds(self, lengths: list[int], d: int, generator: torch.Generator | None):
        """Each utterance's frequency and time masks as (N, K, 2) [start, end) arrays, from the random numbers
        torchaudio's `mask_along_axis` draws utterance by utterance (two per mask, frequency masks first; none for
        an empty utterance, no time masks when its width limit is 0), drawn in one call: a mask's width is
        uniform in [0, mask_param), its start uniform in [0, size - width), in float32 as torchaudio computes."""
        n = len(lengths)
        freq = np.zeros((n, max(self.freq_masks, 1), 2), dtype=np.int64)
        time = np.zeros((n, max(self.time_masks, 1), 2), dtype=np.int64)
        size = np.asarray(lengths, dtype=np.int64)
        width = np.minimum(self.cfg.time_width, (np.float64(self.cfg.time_max_ratio) * size).astype(np.int64))
        n_freq = np.where(size > 0, self.freq_masks, 0)
        n_time = np.where((size > 0) & (width > 0), self.time_masks, 0)
        total = int((n_freq + n_time).sum())
        if total == 0:
            return freq, time
        draws = torch.rand(2 * total, generator=generator).numpy().astype(np.float32).reshape(-1, 2)
        first = np.cumsum(n_freq + n_time) - (n_freq + n_time)  # each utterance's first mask among the draws
        for masks, out, count, offset, param, extent in (
                (self.freq_masks, freq, n_freq, np.zeros(n, np.int64), np.full(n, self.cfg.freq_width), np.full(n, d)),
                (self.time_masks, time, n_time, n_freq, width, size)):
            for k in range(masks):
                rows = np.flatnonzero(count > k)
                value = draws[first[rows] + offset[rows] + k, 0] * param[rows].astype(np.float32)
                start = (draws[first[rows] + offset[rows] + k, 1] * (extent[rows].astype(np.float32) - value))
                out[rows, k, 0] = start.astype(np.int64)
                out[rows, k, 1] = out[rows, k, 0] + value.astype(np.int64)
        return freq, time


def _spans(bounds: np.ndarray, size: int) -> torch.Tensor:
    """(N, K, 2) [start, end) spans -> (N, size) bool: inside any of its K spans."""
    b = torch.from_numpy(bounds)
    at = torch.arange(size)[None, None, :]
    return ((at >= b[..., :1]) & (at < b[..., 1:])).any(dim=1)

