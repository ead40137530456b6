"""LM weight and word insertion score by grid search on a dev set (Kaldi's `score.sh` picks LMWT and the word
insertion penalty the same way): decode with every pair, keep the lowest WER (ties: the smaller weight, then
the score nearer zero, so the choice is reproducible)."""

from __future__ import annotations

import dataclasses

import torch

from asr.decoding.config import DecoderConfig
from asr.scoring.align import ErrorCounts, count_errors


def wer_of(hyps: dict[str, str], refs: dict[str, str]) -> ErrorCounts:
    """Word errors over the references (a missing hypothesis counts as empty)."""
    total = ErrorCounts()
    for utt, ref in refs.items():
        total += count_errors(ref.split(), hyps.get(utt, "").split())
    return total


def tune_lm(loaded, log_probs: dict[str, torch.Tensor], refs: dict[str, str], config: DecoderConfig,
            members: dict[str, torch.Tensor] | None = None) -> tuple[dict, str]:
    """Best {lm_weight, word_score, wer} over the grid of a resolved `config` and the table (TSV) of every point
    (`members`: the rescoring log-probs of an ensemble combined by sequence, asr.decoding.decode.hypotheses)."""
    from asr.decoding.decode import hypotheses

    weights = config.tune_lm_weights or [config.lm_weight]
    scores = config.tune_word_scores or [config.word_score]
    refs = {u: r for u, r in refs.items() if u in log_probs}
    rows, best = ["lm_weight\tword_score\twer\terrors\twords"], None
    cache: dict = {}  # N-best rescoring's CTC likelihoods do not depend on the weights
    for w in weights:
        for s in scores:
            point = dataclasses.replace(config, lm_weight=w, word_score=s)
            counts = wer_of(hypotheses(loaded, log_probs, point, members, cache), refs)
            rows.append(f"{w:g}\t{s:g}\t{100 * counts.rate:.2f}\t{counts.errors}\t{counts.ref_len}")
            key = (counts.errors, w, abs(s))
            if best is None or key < best[0]:
                best = (key, {"lm_weight": float(w), "word_score": float(s), "wer": round(100 * counts.rate, 2)})
    return best[1], "\n".join(rows) + "\n"
