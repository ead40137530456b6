"""Kaldi fbank/MFCC computed as audio arrives: `accept(samples)` returns the frames that are now complete,
`finish()` the rest; together they equal `compute_features` of the whole recording (within float rounding,
tests/features/test_online.py), for any chunking, because Kaldi analyses each frame on its own.

A frame is emitted once its last sample has arrived (snip_edges true: frame i covers samples
[i * shift, i * shift + size)); with snip_edges false the frames are centred, the first ones reflect the
recording's start and the last ones its end, so those come at `finish()`. As Kaldi, a recording shorter than one
frame gives no frames. Memory: one frame's samples.

Dither: the noise comes from the same seeded generator as offline (in blocks of 16 draws, which equal the
offline draws); torch redraws the offline noise's last (length mod 16) values, so with dither the last
millisecond differs. Streaming models are trained without dither (egs/an4), and equality is tested so.

Normalisation is the model's (global CMVN or the running mean, asr.model.stream): it needs no future frames.
"""

from __future__ import annotations

import numpy as np
import torch

from asr.errors import ConfigError
from asr.features.kaldi import DITHER_SEED, FeatureConfig, _analysis, _key, frames_to_features

NOISE_BLOCK = 16


class OnlineFeatures:
    def __init__(self, config: FeatureConfig):
        self.config = config
        a = _analysis(_key(config))
        self.size, self.shift = a.window_size, a.window_shift
        self.pad = 0 if config.snip_edges else self.size // 2 - self.shift // 2
        if not config.snip_edges and self.pad <= 0:
            raise ConfigError("online features with snip_edges false need a frame longer than its shift")
        self.buf = torch.zeros(0)  # scaled (and dithered) samples from buf_start on
        self.buf_start = 0
        self.total = 0  # samples accepted
        self.next_frame = 0
        self.noise = torch.zeros(0)
        self.generator = torch.Generator().manual_seed(DITHER_SEED) if config.dither else None

    @property
    def frames_done(self) -> int:
        return self.next_frame

    def accept(self, samples: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mono samples in [-1, 1] at the config's rate -> (m, dim) features of the frames now complete."""
        wave = torch.as_tensor(np.asarray(samples, dtype=np.float32)).reshape(-1) * 32768.0
        if self.generator is not None and wave.numel():
            while self.noise.numel() < wave.numel():
                self.noise = torch.cat([self.noise, torch.randn(NOISE_BLOCK * 64, generator=self.generator)])
            wave = wave + self.config.dither * self.noise[:wave.numel()]
            self.noise = self.noise[wave.numel():]
        self.buf = torch.cat([self.buf, wave])
        self.total += wave.numel()
        if self.total < self.size:
            return torch.zeros(0, self.config.dim)
        last = (self.total + self.pad - self.size) // self.shift  # the last frame whose samples are all here
        return self._emit(last + 1, final=False)

    def finish(self) -> torch.Tensor:
        """The features of the frames that need the end of the recording."""
        if self.total < self.size:
            return torch.zeros(0, self.config.dim)
        n = self.total
        count = 1 + (n - self.size) // self.shift if self.config.snip_edges else (n + self.shift // 2) // self.shift
        return self._emit(count, final=True)

    def _emit(self, upto: int, final: bool) -> torch.Tensor:
        if upto <= self.next_frame:
            return torch.zeros(0, self.config.dim)
        starts = torch.arange(self.next_frame, upto) * self.shift - self.pad
        idx = starts[:, None] + torch.arange(self.size)[None, :]
        idx = torch.where(idx < 0, -idx - 1, idx)  # snip_edges false: the start reflected
        if final:
            idx = torch.where(idx >= self.total, 2 * self.total - 1 - idx, idx)  # ... and the end
        feats = frames_to_features(self.buf[idx - self.buf_start], self.config)
        self.next_frame = upto
        keep = max(0, self.next_frame * self.shift - self.pad - self.size)
        if keep > self.buf_start:
            self.buf, self.buf_start = self.buf[keep - self.buf_start:], keep
        return feats
