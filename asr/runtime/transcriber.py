"""Audio files -> timed words with an exported ONNX model, without PyTorch.

    from asr.runtime import OnnxTranscriber
    for t in OnnxTranscriber("model.onnx").transcribe_many(["a.wav", "b.flac"]):
        print(t.audio, t.text, [w.to_dict() for w in t.words])

Each recording is read whole (soundfile; other rates resampled through the FFT), its features computed in
NumPy (asr.runtime.features), recordings batched through the graph (padding changes no result) and decoded
greedily or by prefix beam search (asr.runtime.decode). Differences from the PyTorch Transcriber: no windowing
of long recordings (memory grows with the length), word times are where CTC emitted the tokens (its
`--word-times ctc`), no lexicon + LM decoder.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from asr.audio import read_audio
from asr.decoding.spans import Word, spans_to_words
from asr.errors import AsrError, ConfigError
from asr.runtime.decode import decode_spans
from asr.runtime.features import compute_features, resample
from asr.runtime.model import load_onnx_model

DECODERS = ("greedy", "beam")


@dataclass
class Transcript:
    audio: str
    words: list[Word]
    duration_s: float
    elapsed_s: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)

    def to_dict(self) -> dict:
        return {"audio": self.audio, "duration": round(self.duration_s, 3), "text": self.text,
                "words": [w.to_dict() for w in self.words]}


@dataclass
class Failure:
    audio: str
    error: str


class OnnxTranscriber:
    def __init__(self, model: str | os.PathLike, decoder: str | None = None, beam_size: int | None = None,
                 threads: int = 0, batch_size: int = 4):
        """`decoder`: greedy or beam (default: the model's if one of those, else greedy)."""
        self.model = load_onnx_model(model, threads)
        chosen = self.model.decoding.get("decoder")
        self.decoder = decoder or (chosen if chosen in DECODERS else "greedy")
        if self.decoder not in DECODERS:
            raise ConfigError(f"the ONNX backend decodes {' or '.join(DECODERS)}, not '{self.decoder}'")
        self.beam_size = beam_size or int(self.model.decoding.get("beam_size") or 10)
        if batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        f = self.model.features
        self.rate = int(f["sample_rate"])
        self.frame_s = int(self.rate * f["frame_shift_ms"] / 1000) * self.model.subsample / self.rate

    def read(self, path: str) -> np.ndarray:
        data, rate = read_audio(path)
        mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
        return resample(np.ascontiguousarray(mono, np.float32), rate, self.rate)

    def transcribe(self, audio: str | os.PathLike) -> Transcript:
        result = next(self.transcribe_many([audio]))
        if isinstance(result, Failure):
            raise AsrError(result.error)
        return result

    def transcribe_many(self, paths: Iterable[str | os.PathLike]) -> Iterator[Transcript | Failure]:
        """Transcripts (or failures) in input order."""
        batch: list[tuple[str, np.ndarray, float, float]] = []
        for path in paths:
            t0 = time.perf_counter()
            try:
                samples = self.read(str(path))
            except AsrError as e:
                yield from self._run(batch)
                batch = []
                yield Failure(str(path), str(e))
                continue
            feats = compute_features(samples, self.model.features)
            batch.append((str(path), feats, len(samples) / self.rate, time.perf_counter() - t0))
            if len(batch) == self.batch_size:
                yield from self._run(batch)
                batch = []
        yield from self._run(batch)

    def _run(self, batch) -> Iterator[Transcript]:
        if not batch:
            return
        t0 = time.perf_counter()
        lengths = np.array([f.shape[0] for _, f, _, _ in batch], np.int64)
        nonempty = lengths > 0
        out = lengths_out = None
        if nonempty.any():
            feats = np.zeros((len(batch), int(lengths.max()), batch[0][1].shape[1]), np.float32)
            for i, (_, f, _, _) in enumerate(batch):
                feats[i, :len(f)] = f
            out, lengths_out = self.model(feats, np.maximum(lengths, 1))
        share = (time.perf_counter() - t0) / len(batch)
        for i, (path, _, duration, elapsed) in enumerate(batch):
            t1 = time.perf_counter()
            words = []
            if nonempty[i]:
                spans = decode_spans(out[i, :int(lengths_out[i])], self.decoder, self.beam_size)
                words = spans_to_words(spans, self.model.tokenizer, self.frame_s, duration)
            yield Transcript(path, words, duration, elapsed + share + time.perf_counter() - t1)
