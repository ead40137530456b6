"""Streaming recognition: audio in as it arrives, a partial hypothesis after every chunk, final words at each
endpoint (docs/streaming.md).

    session = Transcriber.from_pretrained(model).stream()
    partial = session.accept(samples, 16000)   # -> StreamPartial: .text (the open segment so far), .words
    words = session.finish()                   # the last final words (session.words: all of them)

Audio -> online features (asr.features.online) -> the model run incrementally (asr.model.stream) -> CTC
log-probs, decoded as they come by the transcriber's decoder, carried across chunks: greedy, prefix beam
search (asr.decoding.beam.PrefixBeamSearch) or lexicon + LM (torchaudio's decode_begin/step/end,
asr.decoding.lm). Endpointing: after `endpoint_s` of best-path blank following speech (or `max_segment_s` of
audio) the segment is final: decoded to the end, its words timed (CTC times, seconds from the stream's start)
and the decoder restarted. Endpoints are found frame by frame, so the segments, and the words, do not depend
on how the audio was cut into chunks. Memory: the model's state, a few frames of buffers, and the open segment's
log-probs (at most `max_segment_s`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from asr.decoding.config import DecoderConfig
from asr.errors import AudioError, ConfigError
from asr.features.online import OnlineFeatures
from asr.transcribe.align import TokenSpan, Word, forced_align, greedy_spans, spans_to_words
from asr.transcribe.decoders import words_to_spans


@dataclass
class StreamConfig:
    endpoint_s: float = 0.6  # trailing blank after speech that ends a segment
    max_segment_s: float = 20.0  # a segment is cut after this much audio, speech or not


@dataclass
class StreamPartial:
    """What `accept` returns: the open segment's hypothesis so far (it may still change), and the words that
    became final during this call (endpoints), timed from the stream's start."""

    text: str
    words: list[Word] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"partial": self.text, "final": False}


# ---- incremental decoders of one segment ----------------------------------------------------------------------


class _Greedy:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.begin()

    def begin(self) -> None:
        self.ids, self.last = [], 0

    def step(self, lp: torch.Tensor) -> None:
        for i in lp.argmax(-1).tolist():
            if i != self.last and i != 0:
                self.ids.append(i)
            self.last = i

    def partial(self) -> str:
        return self.tokenizer.decode(self.ids).strip()

    def end(self, lp: torch.Tensor) -> list[TokenSpan]:
        return greedy_spans(lp)


class _Beam(_Greedy):
    def __init__(self, tokenizer, beam_size: int):
        self.beam_size = beam_size
        super().__init__(tokenizer)

    def begin(self) -> None:
        from asr.decoding.beam import PrefixBeamSearch

        self.search = PrefixBeamSearch(self.beam_size)

    def step(self, lp: torch.Tensor) -> None:
        self.search.step(lp)

    def partial(self) -> str:
        return self.tokenizer.decode(self.search.best()[0][0]).strip()

    def end(self, lp: torch.Tensor) -> list[TokenSpan]:
        return forced_align(lp, self.search.best()[0][0]) if lp.shape[0] else []


class _Lexicon:
    def __init__(self, decoder):
        self.decoder = decoder
        self.begin()

    def begin(self) -> None:
        self.decoder.begin()

    def step(self, lp: torch.Tensor) -> None:
        self.decoder.step(lp)

    def partial(self) -> str:
        return " ".join(self.decoder.partial())

    def end(self, lp: torch.Tensor) -> list[TokenSpan]:
        words = self.decoder.end()
        return words_to_spans(self.decoder, lp, words) if lp.shape[0] else []


def online_decoder(loaded, config: DecoderConfig):
    config = config.resolved(loaded).check(loaded)
    if config.decoder == "greedy":
        return _Greedy(loaded.tokenizer)
    if config.decoder == "beam":
        return _Beam(loaded.tokenizer, config.beam_size)
    from asr.decoding.lm import LexiconLMDecoder

    return _Lexicon(LexiconLMDecoder.from_config(loaded.tokenizer, config))


# ---- the session ----------------------------------------------------------------------------------------------


class StreamSession:
    """One live stream through a Transcriber's model and decoder (made by `Transcriber.stream()`)."""

    def __init__(self, transcriber, config: StreamConfig | None = None):
        from asr.model.stream import ModelStream

        loaded = transcriber.loaded
        self.config = config or StreamConfig()
        self.tokenizer = loaded.tokenizer
        self.sample_rate = loaded.features.sample_rate
        self.frame_s = transcriber.frame_s
        self.features = OnlineFeatures(loaded.features)
        model = loaded.model
        self.model = model.stream() if hasattr(model, "stream") else ModelStream(model)
        self.search = online_decoder(loaded, transcriber.decoder_config)
        self.endpoint_frames = max(1, round(self.config.endpoint_s / self.frame_s))
        self.max_frames = max(self.endpoint_frames + 1, round(self.config.max_segment_s / self.frame_s))
        self.words: list[Word] = []  # every final word so far
        self.samples = 0
        self.seg_start = 0  # output frame where the open segment starts
        self.seg_lp: list[torch.Tensor] = []
        self.seg_frames = 0
        self.blank_run = 0
        self.voiced = False
        self.finished = False

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate

    def accept(self, samples: np.ndarray, sample_rate: int | None = None) -> StreamPartial:
        """More audio (mono, or (n, channels) mixed down; float in [-1, 1] or int16) -> the partial result."""
        if self.finished:
            raise ConfigError("this stream has finished; start another with Transcriber.stream()")
        x = np.asarray(samples)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        x = x.astype(np.float32, copy=False)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if not np.isfinite(x).all():
            raise AudioError("stream: audio contains NaN or infinite samples")
        rate = sample_rate or self.sample_rate
        if rate != self.sample_rate and len(x):  # each chunk on its own: a few samples at its edges differ
            from asr.audio import resample

            x = resample(np.ascontiguousarray(x), rate, self.sample_rate)
        self.samples += len(x)
        new = self._consume(self.model.accept(self.features.accept(x)))
        return StreamPartial(self.search.partial(), new)

    def finish(self) -> list[Word]:
        """The end of the audio: the words that became final now (all of them: `self.words`)."""
        if self.finished:
            return []
        self.finished = True
        lp = torch.cat([self.model.accept(self.features.finish()), self.model.finish()])
        new = self._consume(lp)
        if self.seg_frames:
            new += self._end_segment()
        return new

    def _consume(self, lp: torch.Tensor) -> list[Word]:
        """Feed output frames to the decoder, ending segments where the endpoint rule says (frame by frame)."""
        lp = lp.float().cpu()
        new, start = [], 0
        for t, i in enumerate(lp.argmax(-1).tolist()):
            if i == 0:
                self.blank_run += 1
            else:
                self.blank_run, self.voiced = 0, True
            length = self.seg_frames + t + 1 - start
            if self.blank_run >= self.endpoint_frames or length >= self.max_frames:
                self._feed(lp[start:t + 1])
                new += self._end_segment()
                start = t + 1
        self._feed(lp[start:])
        return new

    def _feed(self, lp: torch.Tensor) -> None:
        if lp.shape[0]:
            self.search.step(lp)
            self.seg_lp.append(lp)
            self.seg_frames += lp.shape[0]

    def _end_segment(self) -> list[Word]:
        lp = torch.cat(self.seg_lp) if self.seg_lp else torch.zeros(0, len(self.tokenizer.tokens))
        spans = [s.shifted(self.seg_start) for s in self.search.end(lp)] if self.voiced else []
        words = spans_to_words(spans, self.tokenizer, self.frame_s)
        self.words += words
        self.seg_start += self.seg_frames
        self.seg_lp, self.seg_frames, self.blank_run, self.voiced = [], 0, 0, False
        self.search.begin()
        return words

    def state_size(self) -> int:
        """Numbers held between calls (model state, buffers, the open segment): flat on a long stream."""
        return (self.model.state_numel() + self.features.buf.numel() + self.features.noise.numel()
                + sum(x.numel() for x in self.seg_lp))
