"""Read a recording of any length as overlapping windows of mono samples at the model's rate.

Files are read block by block through libsndfile (wav, flac, ogg, mp3, ...), so memory stays bounded however
long the recording is; `-` is standard input; Kaldi pipes and headerless PCM go through `asr.audio.read_audio`
(whole, as Kaldi utterances are short). Each window is mixed down and resampled on its own; the few samples a
resampler disturbs at a window's edges lie in the overlap, which the stitcher discards.
"""

from __future__ import annotations

import io
import numbers
import os
import sys
from typing import Iterator

import numpy as np
import soundfile as sf

from asr.audio import RawFormat, as_samples, is_pipe, read_audio, resample
from asr.errors import AudioError

STDIN = "-"


class _ArrayReader:
    """The SoundFile reading interface over samples already in memory (frames, channels)."""

    def __init__(self, data: np.ndarray, samplerate: int):
        self.data, self.samplerate, self.frames, self.pos = data, samplerate, data.shape[0], 0

    def read(self, frames: int, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        out = self.data[self.pos:self.pos + frames]
        self.pos += out.shape[0]
        return out

    def close(self) -> None:
        pass


class AudioStream:
    """One recording, opened for sequential reading. `duration_s` is None when unknown (pipes, stdin)."""

    def __init__(self, spec: str | bytes | np.ndarray, sample_rate: int, name: str | None = None,
                 source_rate: int | None = None, raw: RawFormat | None = None):
        """`spec`: a path, `-` (stdin), a Kaldi pipe, an audio file's bytes, or samples (`as_samples`) at
        `source_rate` (default `sample_rate`)."""
        self.sample_rate = sample_rate
        if name is None:
            name = spec if isinstance(spec, str) and spec != STDIN else "standard input" if isinstance(spec, str) \
                else "<bytes>" if isinstance(spec, (bytes, bytearray)) else "<array>"
        self.name = name
        self.duration_s: float | None = None
        if isinstance(spec, (bytes, bytearray)):
            self._reader = self._open_bytes(bytes(spec), name)
            self.duration_s = self._reader.frames / self._reader.samplerate
        elif not isinstance(spec, str):
            if source_rate is not None and (isinstance(source_rate, bool) or source_rate <= 0
                                            if isinstance(source_rate, numbers.Integral) else True):
                raise AudioError(f"{name}: sample_rate must be a positive integer (Hz), got {source_rate!r}")
            source_rate = None if source_rate is None else int(source_rate)
            data = as_samples(spec, name)
            self._reader = _ArrayReader(data, source_rate or sample_rate)
            self.duration_s = data.shape[0] / self._reader.samplerate
        elif spec == STDIN:  # a file's bytes: read whole (pipes cannot seek), decoded block by block
            self._reader = self._open_bytes(sys.stdin.buffer.read(), "standard input")
            self.duration_s = self._reader.frames / self._reader.samplerate
        elif is_pipe(spec) or raw is not None:
            data, sr = read_audio(spec, raw)
            self._reader = _ArrayReader(data, sr)
            self.duration_s = data.shape[0] / sr
        else:
            if not os.path.isfile(spec):
                raise AudioError(f"{spec}: no such audio file" + (" (a folder)" if os.path.isdir(spec) else ""))
            if os.path.getsize(spec) == 0:
                raise AudioError(f"{spec}: empty audio file")
            self._reader = self._open(spec, spec)
            self.duration_s = self._reader.frames / self._reader.samplerate
        if self._reader.frames == 0:
            raise AudioError(f"{self.name}: audio has no samples")

    def _open_bytes(self, data: bytes, name: str) -> sf.SoundFile:
        if not data:
            raise AudioError(f"{name}: empty: no audio bytes")
        return self._open(io.BytesIO(data), name)

    def _open(self, source, name: str) -> sf.SoundFile:
        try:
            return sf.SoundFile(source)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            reason = str(e).replace(repr(source), "").replace(str(source), "").replace("Error opening :", "")
            raise AudioError(f"{name}: cannot decode audio: {' '.join(reason.split()) or type(e).__name__}") \
                from None

    def _read(self, frames: int) -> np.ndarray:
        """Up to `frames` mono samples at the source rate."""
        try:
            data = self._reader.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            raise AudioError(f"{self.name}: cannot decode audio: {e}") from None
        if not np.isfinite(data).all():
            raise AudioError(f"{self.name}: audio contains NaN or infinite samples")
        return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]

    def windows(self, size: int, hop: int) -> Iterator[tuple[int, np.ndarray, bool]]:
        """(first sample, samples, is_last) for windows [k * hop, k * hop + size) at the model's rate; the last
        window runs to the end. Samples are float32 mono in [-1, 1]."""
        src_rate, rate = self._reader.samplerate, self.sample_rate
        ratio = src_rate / rate
        buf = np.zeros(0, dtype=np.float32)
        buf_start = 0  # source sample index of buf[0]
        eof = False
        start = 0
        try:
            while True:
                a = int(round(start * ratio))
                b = int(round((start + size) * ratio))
                while not eof and buf_start + len(buf) <= b:  # one sample beyond b tells whether more follows
                    block = self._read(max(b + 1 - buf_start - len(buf), src_rate))
                    eof = block.shape[0] == 0
                    buf = np.concatenate([buf, block])
                last = eof and buf_start + len(buf) <= b
                piece = buf[a - buf_start:b - buf_start]
                if src_rate != rate and len(piece):
                    piece = resample(np.ascontiguousarray(piece), src_rate, rate)
                    if not last:
                        piece = piece[:size]
                if len(piece) == 0 and start > 0:
                    return
                yield start, np.ascontiguousarray(piece, dtype=np.float32), last
                if last:
                    return
                start += hop
                drop = int(round(start * ratio)) - buf_start
                buf, buf_start = buf[drop:], buf_start + drop
        finally:
            self._reader.close()
