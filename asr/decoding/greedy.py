"""Greedy (best path) CTC decoding: argmax per frame, merge repeats, drop blanks."""

from __future__ import annotations

import torch


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> list[list[int]]:
    """(N, T, V) log-probs with lengths (N,) -> token id sequences."""
    best = log_probs.argmax(dim=-1)  # (N, T)
    keep = torch.ones_like(best, dtype=torch.bool)
    keep[:, 1:] = best[:, 1:] != best[:, :-1]
    keep &= best != blank
    keep &= torch.arange(best.shape[1], device=best.device)[None, :] < lengths[:, None].to(best.device)
    best, keep = best.cpu(), keep.cpu()
    return [best[i][keep[i]].tolist() for i in range(best.shape[0])]
