"""Fused nn.LSTM / nn.GRU on padded batches (asr.model.fused) equal the packed path: outputs and gradients."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.model.fused import PaddedGRU, PaddedLSTM, reverse_index

LENGTHS = torch.tensor([7, 3, 9, 1, 5])


def packed_forward(layer, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(layer(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def grads(layer, x, out, weight):
    """Gradients of sum(out * weight) w.r.t. the input and every parameter."""
    layer.zero_grad()
    x.grad = None
    (out * weight).sum().backward()
    return [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]


@pytest.mark.parametrize("make", [
    lambda: PaddedLSTM(6, 4, batch_first=True, bidirectional=True),
    lambda: PaddedLSTM(6, 4, batch_first=True, bidirectional=False),
    lambda: PaddedLSTM(6, 4, batch_first=True, bidirectional=True, proj_size=3),
    lambda: PaddedGRU(6, 4, batch_first=True, bidirectional=True),
    lambda: PaddedGRU(6, 4, batch_first=True, bidirectional=False),
], ids=["lstm-bi", "lstm-uni", "lstmp-bi", "gru-bi", "gru-uni"])
def test_padded_equals_packed(make):
    torch.manual_seed(0)
    layer = make()
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 6)
    valid = (torch.arange(x.shape[1])[None, :] < LENGTHS[:, None]).unsqueeze(-1)
    x = torch.where(valid, x, torch.full_like(x, 1e3)).requires_grad_()  # huge padding must not leak
    ref = packed_forward(layer, x, LENGTHS)
    weight = torch.randn_like(ref)
    ref_grads = grads(layer, x, ref, weight)
    out, _ = layer(x, LENGTHS)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5)
    assert (out.masked_select(~valid) == 0).all()
    for a, b in zip(grads(layer, x, out, weight), ref_grads):
        assert torch.allclose(a, b, atol=1e-5)


def test_full_length_batch_is_one_call_and_equal():
    torch.manual_seed(1)
    layer = PaddedLSTM(6, 4, batch_first=True, bidirectional=True).eval()
    x = torch.randn(2, 8, 6)
    lengths = torch.tensor([8, 8])
    assert torch.allclose(layer(x, lengths)[0], packed_forward(layer, x, lengths), atol=1e-6)


def test_reverse_index_reverses_within_length_and_is_an_involution():
    idx = reverse_index(torch.tensor([3, 1, 4]), 4)
    assert idx.tolist() == [2, 1, 0, 3, 4, 5, 6, 7, 11, 10, 9, 8]
    assert torch.equal(idx[idx], torch.arange(12))


def test_packed_input_still_works():
    layer = PaddedLSTM(6, 4, batch_first=True, bidirectional=True)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 6)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    assert isinstance(layer(packed)[0], torch.nn.utils.rnn.PackedSequence)


def test_dropout_is_inverted_dropout():
    from asr.model.model import Dropout

    x = torch.randn(64, 50, 40, requires_grad=True)
    drop = Dropout(0.2)
    torch.manual_seed(3)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.01
    assert torch.allclose(y[kept], x[kept] / 0.8)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.8)  # the gradient goes through the kept values only
    torch.manual_seed(3)
    assert torch.equal(drop(x), y)  # a seed gives the same masks
    drop.eval()
    assert drop(x) is x
    assert Dropout(0.0)(x) is x and (Dropout(1.0)(x) == 0).all()
