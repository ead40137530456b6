"""Decoding for the runtime, in NumPy: greedy and prefix beam search (asr.decoding.beam, which needs no
PyTorch), token spans, forced alignment to time the beam's tokens, and timed words.

The same algorithms as asr.transcribe.align (greedy spans as torchaudio's merge_tokens, Viterbi CTC alignment,
words split at `<space>`, at a token that starts a word, and at pauses of over a second), written against
NumPy because that module needs PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from asr.decoding.beam import prefix_beam_search
from asr.decoding.viterbi import viterbi_frame_tokens
from asr.text.tokenizer import SPACE

PAUSE_S = 1.0


@dataclass(frozen=True)
class Span:
    token: int
    start: int  # output frames [start, end)
    end: int
    score: float  # peak posterior


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float
    end_s: float
    confidence: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start_s, 3), "end": round(self.end_s, 3),
                "confidence": round(self.confidence, 3)}


def path_spans(path: np.ndarray, prob: np.ndarray, blank: int = 0) -> list[Span]:
    """Runs of one non-blank token on a frame path (T,), scored by the peak of prob (T,) over the run."""
    if len(path) == 0:
        return []
    change = np.flatnonzero(np.diff(path, prepend=-1, append=-1) != 0)
    return [Span(int(path[a]), int(a), int(b), float(prob[a:b].max()))
            for a, b in zip(change[:-1], change[1:]) if path[a] != blank]


def greedy_spans(log_probs: np.ndarray, blank: int = 0) -> list[Span]:
    best = log_probs.argmax(-1)
    return path_spans(best, np.exp(log_probs[np.arange(len(best)), best]), blank)


def forced_align(log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0) -> list[Span]:
    """Viterbi CTC alignment of `tokens` to (T, V) log-probs -> one span per token."""
    tokens = list(tokens)
    if not tokens:
        return []
    lp = log_probs.astype(np.float64)
    t_len = lp.shape[0]
    frame_tokens = viterbi_frame_tokens(lp, tokens, blank)
    return path_spans(frame_tokens, np.exp(lp[np.arange(t_len), frame_tokens]), blank)


def decode_spans(log_probs: np.ndarray, decoder: str = "greedy", beam_size: int = 10) -> list[Span]:
    """(T, V) log-probs of one recording -> token spans: greedy, or prefix beam search timed by alignment."""
    if decoder == "greedy":
        return greedy_spans(log_probs)
    if decoder == "beam":
        return forced_align(log_probs, prefix_beam_search(log_probs, beam_size)[0][0])
    raise ValueError(f"the ONNX runtime decodes greedy or beam, not '{decoder}'")


def spans_to_words(spans: Sequence[Span], tokenizer, frame_s: float, duration_s: float) -> list[Word]:
    """Group spans into words as asr.transcribe.align.spans_to_words does."""
    space = tokenizer.index[SPACE]
    if tokenizer.kind == "word":
        def starts(token):
            return True
    elif tokenizer.kind == "bpe":
        marked = {i for i, t in enumerate(tokenizer.tokens) if t.startswith("\u2581")}
        starts = marked.__contains__
    else:
        def starts(token):
            return False
    pause = PAUSE_S / frame_s
    words: list[Word] = []
    current: list[Span] = []

    def flush():
        text = tokenizer.decode([s.token for s in current]).strip() if current else ""
        if text:
            words.append(Word(text, current[0].start * frame_s, min(current[-1].end * frame_s, duration_s),
                              min(s.score for s in current)))
        current.clear()

    for span in spans:
        if span.token == space:
            flush()
            continue
        if current and (starts(span.token) or span.start - current[-1].end > pause):
            flush()
        current.append(span)
    flush()
    return words
