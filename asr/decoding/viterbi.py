"""Viterbi CTC alignment of a known token sequence, in NumPy (torch-free: the ONNX runtime uses it too)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def viterbi_frame_tokens(lp: np.ndarray, tokens: Sequence[int], blank: int = 0) -> np.ndarray:
    """(T, V) log-probs and a non-empty token sequence -> (T,) the token (or blank) of each frame on the best CTC
    path that spells `tokens`. Raises ValueError when the sequence cannot fit in T frames. A repeated token has a
    blank between its two runs, so the runs of non-blank frames are the tokens, in order."""
    tokens = list(tokens)
    t_len = lp.shape[0]
    states = np.full(2 * len(tokens) + 1, blank)
    states[1::2] = tokens
    s_len = len(states)
    # a state may skip the blank before it when it differs from the token two states back
    skip = np.zeros(s_len, dtype=bool)
    skip[3::2] = states[3::2] != states[1:-2:2]
    neg = -np.inf
    score = np.full(s_len, neg)
    score[:2] = lp[0, states[:2]]
    back = np.zeros((t_len, s_len), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, t_len):
        step = np.concatenate([[neg], score[:-1]])
        jump = np.where(skip, np.concatenate([[neg, neg], score[:-2]]), neg)
        cand = np.stack([score, step, jump])
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + lp[t, states]
    end = s_len - 1 if score[-1] >= score[-2] else s_len - 2
    if not np.isfinite(score[end]):
        raise ValueError(f"{len(tokens)} tokens do not fit in {t_len} frames")
    path = np.empty(t_len, dtype=np.int64)
    s = end
    for t in range(t_len - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    return states[path]
