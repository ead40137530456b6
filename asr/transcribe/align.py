"""Word times and confidences from CTC frames: the PyTorch entry points of asr.decoding.spans (where `TokenSpan`,
`Word`, the grouping of spans into words and the NumPy algorithms live, shared with the ONNX runtime).

A decoder's output is a list of `TokenSpan`s; words are the runs of tokens between `<space>` units or long
pauses (asr.decoding.spans.spans_to_words). Here log-probs are (T, V) float tensors, aligned in float32.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from asr.decoding import spans
from asr.decoding.spans import PAUSE_S, TokenSpan, Word, join_spans, spans_to_words, word_starts

__all__ = ["PAUSE_S", "TokenSpan", "Word", "forced_align", "greedy_spans", "join_spans", "spans_to_words",
           "word_starts"]


def greedy_spans(log_probs: torch.Tensor, blank: int = 0) -> list[TokenSpan]:
    """Best path of (T, V) log-probs as token spans: runs of one non-blank argmax (torchaudio's merge_tokens)."""
    if log_probs.shape[0] == 0:
        return []
    best_lp, best = log_probs.detach().max(dim=-1)
    return spans.path_spans(best.cpu().numpy(), best_lp.exp().cpu().numpy(), blank)


def forced_align(log_probs: torch.Tensor, tokens: Sequence[int], blank: int = 0) -> list[TokenSpan]:
    """Viterbi CTC alignment of a known token sequence to (T, V) log-probs -> one span per token, in float32.

    Used to time the output of decoders that return token ids only (beam, lexicon + LM). Raises ValueError
    when the sequence cannot fit in T frames.
    """
    return spans.forced_align(log_probs.detach().float().cpu().numpy(), tokens, blank, np.float32)
