"""Kaldi fbank/MFCC computed as audio arrives: `accept(samples)` returns the frames that are now complete,
`finish()` the rest; together they equal `compute_features` of the whole recording (within float rounding,
tests/features/test_online.py), for any chunking, because Kaldi analyses each frame on its own.

A frame is emitted once its last sample has arrived (snip_edges true: frame i covers samples
[i * shift, i * shift + size)); with snip_edges false the frames are centred, the first ones reflect the
recording's start and the last ones its end, so those come at `finish()`. As Kaldi, a recording shorter than one
frame gives no frames. Memory: one frame's samples.

Dither: the noise comes from the same seeded generator as offline, drawn in blocks of 16 (torch's normal
sampler fills 16 values at a time, so these equal the offline draws); when the length is not a multiple of 16,
torch redraws the offline noise's last 16 values, which `finish()` repeats from the saved generator state. So
with dither the frames touching the last 16 samples so far wait for more audio (or the end).

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
        self.noise_drawn = 0  # values drawn so far
        self.block_states: list[tuple[int, torch.Tensor]] = []  # (first value, generator state) of the last blocks
        self.raw_tail = torch.zeros(0)  # the last undithered samples (dither: redone at the end)
        self.hold = NOISE_BLOCK if config.dither else 0

    @property
    def frames_done(self) -> int:
        return self.next_frame

    def accept(self, samples: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mono samples in [-1, 1] at the config's rate -> (m, dim) features of the frames now complete."""
        wave = torch.as_tensor(np.asarray(samples, dtype=np.float32)).reshape(-1) * 32768.0
        if self.generator is not None and wave.numel():
            self.raw_tail = torch.cat([self.raw_tail, wave])[-2 * NOISE_BLOCK:]
            blocks = []
            while self.noise.numel() + NOISE_BLOCK * len(blocks) < wave.numel():
                self.block_states = (self.block_states + [(self.noise_drawn, self.generator.get_state())])[-3:]
                blocks.append(torch.randn(NOISE_BLOCK, generator=self.generator))
                self.noise_drawn += NOISE_BLOCK
            self.noise = torch.cat([self.noise, *blocks])
            wave = wave + self.config.dither * self.noise[:wave.numel()]
            self.noise = self.noise[wave.numel():]
        self.buf = torch.cat([self.buf, wave])
        self.total += wave.numel()
        if self.total < self.size:
            return torch.zeros(0, self.config.dim)
        last = (self.total - self.hold + self.pad - self.size) // self.shift  # the last frame whose samples are here
        return self._emit(last + 1, final=False)

    def finish(self) -> torch.Tensor:
        """The features of the frames that need the end of the recording."""
        if self.total < self.size:
            return torch.zeros(0, self.config.dim)
        n = self.total
        if self.generator is not None and n % NOISE_BLOCK and n > NOISE_BLOCK:
            self._redraw_tail(n)
        count = 1 + (n - self.size) // self.shift if self.config.snip_edges else (n + self.shift // 2) // self.shift
        return self._emit(count, final=True)

    def _redraw_tail(self, n: int) -> None:
        """As torch's randn(n): the values from the last whole block but one on, drawn as one call of 16-31."""
        first = NOISE_BLOCK * (n // NOISE_BLOCK - 1)
        state = next(st for pos, st in self.block_states if pos == first)
        noise = torch.randn(n - first, generator=torch.Generator().set_state(state))
        raw = self.raw_tail[-(n - first):]
        self.buf[first - self.buf_start:n - self.buf_start] = raw + self.config.dither * noise

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
