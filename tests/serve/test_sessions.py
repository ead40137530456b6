"""Live audio -> segments cut at pauses (SegmentSession), and a streaming model's session in the same events."""

from __future__ import annotations

import numpy as np
import pytest

from asr.serve.sessions import ModelSession, SegmentSession
from asr.transcribe.align import Word
from asr.transcribe.transcriber import Transcript

RATE = 16000


class Recorder:
    """A stand-in transcriber: one word spanning the whole segment; keeps the segments it was given."""

    def __init__(self):
        self.segments: list[np.ndarray] = []

    def __call__(self, samples: np.ndarray, rate: int) -> Transcript:
        self.segments.append(samples.copy())
        d = len(samples) / rate
        return Transcript("stream", [Word(f"w{len(self.segments)}", 0.0, d, 0.9)], d)


def bursts(spans_s: list[tuple[float, float]], total_s: float, seed: int = 0) -> np.ndarray:
    """Quiet noise with loud noise over the given (start, end) spans."""
    rng = np.random.default_rng(seed)
    x = 0.002 * rng.standard_normal(int(total_s * RATE))
    for a, b in spans_s:
        x[int(a * RATE):int(b * RATE)] = 0.2 * rng.standard_normal(int(b * RATE) - int(a * RATE))
    return x.astype(np.float32)


def feed(session, x: np.ndarray, step_s: float = 0.1) -> list[dict]:
    events = []
    step = int(step_s * RATE)
    for i in range(0, len(x), step):
        events += session.accept(x[i:i + step], RATE)
    return events + session.finish()


def test_pauses_cut_segments_and_times_are_of_the_stream():
    spans = [(1.0, 1.6), (2.8, 3.5), (4.6, 5.0), (6.5, 7.4)]
    rec = Recorder()
    events = feed(SegmentSession(rec, pause_s=0.5, partial_every_s=0), bursts(spans, 8.5))
    finals = [e for e in events if e["type"] == "final"]
    assert [e["segment"] for e in finals] == [0, 1, 2, 3]
    for (a, b), e in zip(spans, finals):
        assert e["start"] < a and b < e["end"]  # each segment holds one burst whole, cut in the pauses
        assert e["words"][0]["start"] == pytest.approx(e["start"], abs=1e-3)  # word times: from the stream's start
    assert all(x["end"] <= y["start"] for x, y in zip(finals, finals[1:]))  # in order; only silence between


def test_short_pauses_do_not_cut_and_partials_come_while_speaking():
    rec = Recorder()
    spans = [(0.5, 1.2), (1.4, 2.0), (2.2, 3.0)]  # 0.2 s gaps
    events = feed(SegmentSession(rec, pause_s=0.5, partial_every_s=0.5), bursts(spans, 3.3))
    finals = [e for e in events if e["type"] == "final"]
    assert len(finals) == 1 and finals[0]["start"] < 0.5 and finals[0]["end"] > 3.0
    assert sum(e["type"] == "partial" for e in events) >= 3


def test_long_speech_is_cut_at_the_limit_and_silence_is_dropped():
    rec = Recorder()
    x = np.concatenate([bursts([], 30.0), bursts([(0.0, 7.0)], 7.0, seed=1)])
    session = SegmentSession(rec, pause_s=0.5, max_segment_s=2.0, partial_every_s=0)
    events = feed(session, x)
    finals = [e for e in events if e["type"] == "final"]
    assert len(finals) >= 3 and all(e["end"] - e["start"] <= 2.0 + 1e-6 for e in finals)
    assert finals[-1]["end"] == pytest.approx(37.0, abs=0.01)
    assert finals[0]["start"] >= 29.0  # 30 s of silence before: dropped, not transcribed, not kept
    with pytest.raises(ValueError, match="sample rate changed"):
        session.accept(np.zeros(10, np.float32), 8000)


def test_silence_only_gives_nothing():
    rec = Recorder()
    assert feed(SegmentSession(rec), bursts([], 5.0)) == [] and rec.segments == []


def test_model_session_events():
    """Both shapes a streaming session may return: partial words; or partial text with the words that became
    final (the streaming issue's StreamPartial)."""
    class Streaming:
        def accept(self, samples, rate):
            return [Word("HI", 0.1, 0.3, 0.5)]

        def finish(self):
            return Transcript("s", [Word("HI", 0.1, 0.3, 0.5), Word("YOU", 0.4, 0.6, 0.7)], 1.0)

    s = ModelSession(Streaming())
    assert s.accept(np.zeros(160, np.float32), RATE)[0]["text"] == "HI"
    final = s.finish()[0]
    assert final["type"] == "final" and final["text"] == "HI YOU" and final["words"][1]["start"] == 0.4

    class Partial:
        def __init__(self, text, words):
            self.text, self.words = text, words

    class Endpointing:
        calls = 0

        def accept(self, samples, rate):
            self.calls += 1
            return Partial("HI", []) if self.calls == 1 else Partial("", [Word("HI", 0.1, 0.3, 0.5)])

        def finish(self):
            return [Word("YOU", 0.9, 1.2, 0.7)]

    s = ModelSession(Endpointing())
    assert s.accept(np.zeros(160, np.float32), RATE) == [{"type": "partial", "segment": 0, "text": "HI",
                                                          "words": []}]
    [final] = s.accept(np.zeros(160, np.float32), RATE)
    assert final["type"] == "final" and final["segment"] == 0 and final["start"] == 0.1 and final["end"] == 0.3
    [last] = s.finish()
    assert last["segment"] == 1 and last["text"] == "YOU"
