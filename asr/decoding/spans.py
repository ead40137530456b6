"""Token spans and timed words from CTC frames, in NumPy (torch-free: the ONNX runtime and asr.transcribe.align,
which adds PyTorch entry points, share it).

A decoder's output is a list of `TokenSpan`s: each emitted token with the output frames it occupies (a run of
the same argmax on the best path, or its frames in a forced alignment) and its peak posterior. Words are the
runs of tokens between `<space>` units or long pauses. Output frame t covers the input frames t * subsample ...,
so seconds = t * subsample * frame_shift_s (`frame_s` below).

Word confidence is the lowest peak posterior among its tokens: a word is as sure as its least sure letter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from asr.decoding.viterbi import viterbi_frame_tokens
from asr.text.tokenizer import SPACE

PAUSE_S = 1.0  # tokens further apart than this belong to different words, <space> or not


@dataclass(frozen=True)
class TokenSpan:
    """Token `token` on output frames [start, end), with its peak posterior `score` over them; `word`: the word
    this token begins, when a lexicon decoder chose it (else the word is spelled from the tokens)."""

    token: int
    start: int
    end: int
    score: float
    word: str | None = None

    def shifted(self, frames: int) -> "TokenSpan":
        return dataclasses.replace(self, start=self.start + frames, end=self.end + frames)


@dataclass(frozen=True)
class Word:
    """A recognised word: seconds from the start of the recording, confidence in [0, 1]."""

    word: str
    start_s: float
    end_s: float
    confidence: float

    def to_dict(self) -> dict:
        return {"word": self.word, "start": round(self.start_s, 3), "end": round(self.end_s, 3),
                "confidence": round(self.confidence, 3)}


def path_spans(path: np.ndarray, prob: np.ndarray, blank: int = 0) -> list[TokenSpan]:
    """Spans of a frame-level CTC path (T,) with each frame's posterior of its token (T,): the runs of one
    non-blank token (as torchaudio's merge_tokens), scored by their peak posterior (merge_tokens averages)."""
    if len(path) == 0:
        return []
    change = np.flatnonzero(np.diff(path, prepend=-1, append=-1) != 0)
    return [TokenSpan(int(path[a]), int(a), int(b), float(prob[a:b].max()))
            for a, b in zip(change[:-1], change[1:]) if path[a] != blank]


def greedy_spans(log_probs: np.ndarray, blank: int = 0) -> list[TokenSpan]:
    """Best path of (T, V) log-probs as token spans, posteriors in the dtype of `log_probs`."""
    best = log_probs.argmax(-1)
    return path_spans(best, np.exp(log_probs[np.arange(len(best)), best]), blank)


def forced_align(log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0,
                 dtype: type = np.float64) -> list[TokenSpan]:
    """Viterbi CTC alignment of a known token sequence to (T, V) log-probs -> one span per token, computed in
    `dtype` (the runtime: float64; asr.transcribe.align: float32).

    Used to time the output of decoders that return token ids only (beam, lexicon + LM). Raises ValueError
    when the sequence cannot fit in T frames.
    """
    tokens = list(tokens)
    if not tokens:
        return []
    lp = np.asarray(log_probs).astype(dtype, copy=False)
    frame_tokens = viterbi_frame_tokens(lp, tokens, blank)
    return path_spans(frame_tokens, np.exp(lp[np.arange(lp.shape[0]), frame_tokens]), blank)


def join_spans(spans: list[TokenSpan], more: Sequence[TokenSpan]) -> None:
    """Append `more` to `spans`, joining a run of one token split across the two (CTC merges repeats)."""
    for span in more:
        last = spans[-1] if spans else None
        if last is not None and last.token == span.token and last.end == span.start:
            spans[-1] = TokenSpan(span.token, last.start, span.end, max(last.score, span.score), last.word or span.word)
        else:
            spans.append(span)


def word_starts(tokenizer) -> Callable[[int], bool]:
    """Whether a token always begins a new word: every token of word units (and of phone units, which are
    timed one by one), a `▁` piece of BPE; never for characters (only `<space>` separates those)."""
    if tokenizer.kind == "word" or not tokenizer.word_level:
        return lambda token: True
    if tokenizer.kind == "bpe":
        marked = {i for i, t in enumerate(tokenizer.tokens) if t.startswith("\u2581")}
        return marked.__contains__
    return lambda token: False


def spans_to_words(spans: Sequence[TokenSpan], tokenizer, frame_s: float, duration_s: float | None = None,
                   pause_s: float | None = PAUSE_S) -> list[Word]:
    """Group token spans into words (asr.text tokenizers: at `<space>`, at a token that starts a word, and
    where tokens are more than `pause_s` apart: a model trained on single utterances emits no `<space>` across
    the silence between two of them); a word's text is `tokenizer.decode` of its tokens. Seconds =
    frame * frame_s."""
    space = tokenizer.index[SPACE]
    starts = word_starts(tokenizer)
    pause = None if pause_s is None else pause_s / frame_s
    words: list[Word] = []
    current: list[TokenSpan] = []

    def flush():
        text = current[0].word if current and current[0].word else tokenizer.decode([s.token for s in current]).strip()
        if current and text:
            end_s = current[-1].end * frame_s
            if duration_s is not None:
                end_s = min(end_s, duration_s)
            words.append(Word(text, current[0].start * frame_s, end_s, min(s.score for s in current)))
        current.clear()

    for span in spans:
        if span.token == space:
            flush()
            continue
        if span.word is not None or current and current[0].word is None and (
                starts(span.token) or (pause is not None and span.start - current[-1].end > pause)):
            flush()
        current.append(span)
    flush()
    return words
