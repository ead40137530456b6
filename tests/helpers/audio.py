"""Generated audio for the tests: one tone generator (tests/conftest.py's `tone_wav` fixture uses it too)."""

from __future__ import annotations

import numpy as np


def tone(seconds: float = 0.5, sr: int = 16000, freq: float = 440.0, amplitude: float = 0.5,
         channels: int | None = None) -> np.ndarray:
    """A sine wave: (samples,), or (samples, channels) with channel c at freq * (c + 1). Every value is a
    multiple of 1/32768, so a 16-bit file reads back exactly as written."""
    t = np.arange(int(seconds * sr)) / sr
    x = amplitude * np.sin(2 * np.pi * freq * np.outer(t, np.arange(1, (channels or 1) + 1)))
    x = np.round(x * 32767) / 32768
    return x if channels else x[:, 0]
