"""Live audio -> words. A session takes samples as they arrive (`accept`) and gives events back; `finish` ends it:

    {"type": "partial", "segment": k, "text": ..., "words": [...]}     the open segment so far (may change)
    {"type": "final", "segment": k, "start": s, "end": e, "text": ..., "words": [...]}   settled words

Word times are seconds from the start of the stream. Two kinds of session have this interface:

- `SegmentSession`, for a bidirectional model, which needs a whole utterance: an energy endpointer cuts the stream
  at pauses (`pause_s` of frames quieter than the stream's recent noise floor plus a share of its dynamic range,
  as the word-time snapping does, asr.transcribe.snap), or at the quietest frame once a segment reaches
  `max_segment_s`; each segment is transcribed whole (its final result), the open one now and then (partials);
- `ModelSession`, around a streaming model's own `transcriber.stream()` session (accept -> partial, finish ->
  final words).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Callable, Protocol

import numpy as np

from asr.transcribe.align import Word

FRAME_S = 0.01  # endpointer frames
MIN_SPEECH_S = 0.1  # less speech than this in a segment: nothing to transcribe
MIN_RANGE_DB = 10.0  # less contrast between quiet and loud frames: no pause can be told
HISTORY_S = 10.0  # the noise floor and the speech level come from this much recent audio


class Session(Protocol):
    mode: str

    def accept(self, samples: np.ndarray, sample_rate: int) -> list[dict]: ...

    def finish(self) -> list[dict]: ...


def words_event(kind: str, segment: int, words: list[Word], offset_s: float = 0.0, **extra) -> dict:
    moved = [dataclasses.replace(w, start_s=w.start_s + offset_s, end_s=w.end_s + offset_s) for w in words]
    return {"type": kind, "segment": segment, **extra, "text": " ".join(w.word for w in moved),
            "words": [w.to_dict() for w in moved]}


class SegmentSession:
    """Pause-cut segments, each transcribed by `transcribe(samples, sample_rate) -> Transcript`."""

    mode = "segments"

    def __init__(self, transcribe: Callable, pause_s: float = 0.5, max_segment_s: float = 20.0,
                 partial_every_s: float = 1.0):
        self.transcribe = transcribe
        self.pause_s, self.max_segment_s, self.partial_every_s = pause_s, max_segment_s, partial_every_s
        self.rate: int | None = None
        self.buf = np.zeros(0, np.float32)  # the open segment's samples (and not yet analysed ones)
        self.buf_start = 0  # stream sample index of buf[0]
        self.energy: list[float] = []  # dB of each whole frame of buf
        self.history: collections.deque[float] = collections.deque()
        self.speech_frames = 0
        self.silence_run = 0
        self.since_partial = 0  # samples since the last partial result
        self.segment = 0

    @property
    def duration_s(self) -> float:
        return (self.buf_start + len(self.buf)) / self.rate if self.rate else 0.0

    def accept(self, samples: np.ndarray, sample_rate: int) -> list[dict]:
        if self.rate is None:
            self.rate = sample_rate
            self.frame = max(1, int(round(sample_rate * FRAME_S)))
            self.history = collections.deque(maxlen=int(HISTORY_S / FRAME_S))
        elif sample_rate != self.rate:
            raise ValueError(f"sample rate changed from {self.rate} to {sample_rate} Hz within the stream")
        events: list[dict] = []
        self.buf = np.concatenate([self.buf, np.asarray(samples, np.float32).reshape(-1)])
        self.since_partial += len(samples)
        while (len(self.energy) + 1) * self.frame <= len(self.buf):
            i = len(self.energy)
            x = self.buf[i * self.frame:(i + 1) * self.frame].astype(np.float64)
            e = float(10 * np.log10(np.mean(x * x) + 1e-10))
            self.energy.append(e)
            if e > -95.0:  # exact digital silence would drag the floor down
                self.history.append(e)
            cut = self._step(e)
            if cut is not None:
                events += self._cut(cut)
        if (self.partial_every_s and self.speech_frames * FRAME_S >= MIN_SPEECH_S
                and self.since_partial >= self.partial_every_s * self.rate):
            self.since_partial = 0
            result = self.transcribe(self.buf, self.rate)
            events.append(words_event("partial", self.segment, result.words, self.buf_start / self.rate))
        return events

    def finish(self) -> list[dict]:
        events = self._cut(len(self.buf) // self.frame + 1) if self.rate else []
        return events

    def _threshold(self) -> float | None:
        if len(self.history) < 20:
            return None
        lo, hi = np.percentile(np.asarray(self.history), (10, 99))
        return lo + 0.3 * (hi - lo) if hi - lo >= MIN_RANGE_DB else None

    def _step(self, e: float) -> int | None:
        """Take one frame's energy; the frame to cut the segment at, when it ends here."""
        thr = self._threshold()
        n = len(self.energy)
        if thr is not None and e > thr:
            self.speech_frames += 1
            self.silence_run = 0
        else:
            self.silence_run += 1
        pause = int(round(self.pause_s / FRAME_S))
        if self.speech_frames * FRAME_S >= MIN_SPEECH_S and self.silence_run >= pause:
            return n - self.silence_run // 2  # the middle of the pause
        if self.speech_frames == 0 and thr is not None and n > 2 * pause:  # leading silence: keep its last pause
            drop = (n - pause) * self.frame
            self.buf, self.buf_start, self.energy = self.buf[drop:], self.buf_start + drop, self.energy[n - pause:]
            return None
        if n * FRAME_S >= self.max_segment_s:  # too long: cut at the quietest frame of its second half
            tail = np.asarray(self.energy[n // 2:])
            return n // 2 + int(np.argmin(tail)) + 1
        return None

    def _cut(self, frame: int) -> list[dict]:
        """End the segment before `frame`: transcribe it (if it holds speech) and start the next."""
        end = min(frame * self.frame, len(self.buf))
        seg, rest = self.buf[:end], self.buf[end:]
        events = []
        if self.speech_frames * FRAME_S >= MIN_SPEECH_S and len(seg):
            result = self.transcribe(seg, self.rate)
            start_s = self.buf_start / self.rate
            events.append(words_event("final", self.segment, result.words, start_s, start=round(start_s, 3),
                                      end=round((self.buf_start + end) / self.rate, 3)))
            self.segment += 1
        self.buf, self.buf_start = rest, self.buf_start + end
        self.energy = self.energy[min(frame, len(self.energy)):]
        thr = self._threshold()
        self.speech_frames = 0 if thr is None else sum(1 for e in self.energy if e > thr)
        self.silence_run = 0
        self.since_partial = 0
        return events


class ModelSession:
    """A streaming model's session (`transcriber.stream()`) in this module's events. Its `accept(samples, rate)`
    returns the open segment's partial text with the words that became final in the call (`.text`, `.words`), or
    the partial words themselves (a list of Words); `finish()` the words that became final at the end."""

    mode = "streaming"

    def __init__(self, session):
        self.session = session
        self.segment = 0

    def accept(self, samples: np.ndarray, sample_rate: int) -> list[dict]:
        result = self.session.accept(samples, sample_rate)
        if isinstance(getattr(result, "text", None), str) and hasattr(result, "words"):
            events = self._final(list(result.words))
            if result.text:
                events.append({"type": "partial", "segment": self.segment, "text": result.text, "words": []})
            return events
        words = _words(result)
        return [words_event("partial", self.segment, words)] if words else []

    def finish(self) -> list[dict]:
        return self._final(_words(self.session.finish()))

    def _final(self, words: list[Word]) -> list[dict]:
        if not words:
            return []
        event = words_event("final", self.segment, words, start=round(words[0].start_s, 3),
                            end=round(words[-1].end_s, 3))
        self.segment += 1
        return [event]


def _words(result) -> list[Word]:
    """Words of what a streaming session returns: a Transcript, a list of Words, or None."""
    if result is None:
        return []
    if hasattr(result, "words"):
        return list(result.words)
    return [w for w in result if isinstance(w, Word)]
