"""clip_gradients leaves every gradient and the norm exactly as torch's clip_grad_norm_ does, clipping or not."""

from __future__ import annotations

import pytest
import torch

from asr.training.trainer import clip_gradients


def _model_with_grads(seed: int, scale: float, nan: bool = False) -> torch.nn.Module:
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.Linear(20, 5, bias=False))
    for p in m.parameters():
        p.grad = torch.randn_like(p) * scale
    m[1].weight.grad = None if seed % 3 == 0 else m[1].weight.grad  # a parameter without a gradient
    if nan:
        m[0].weight.grad[0, 0] = float("nan")
    return m


@pytest.mark.parametrize("scale,nan", [(1e-3, False), (0.3, False), (10.0, False), (10.0, True)])
def test_same_as_clip_grad_norm(scale, nan):
    for seed in range(6):
        ours, ref = _model_with_grads(seed, scale, nan), _model_with_grads(seed, scale, nan)
        norm = clip_gradients(ours, 5.0)
        ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), 5.0)
        assert torch.equal(norm, ref_norm) or (norm.isnan() and ref_norm.isnan())
        for a, b in zip(ours.parameters(), ref.parameters()):
            assert (a.grad is None) == (b.grad is None)
            if a.grad is not None:
                assert torch.equal(a.grad.nan_to_num(7.0), b.grad.nan_to_num(7.0))
        clipped = [p.grad.norm() for p in ours.parameters() if p.grad is not None]
        if not nan:
            assert float(torch.stack(clipped).norm()) <= 5.0 + 1e-4
