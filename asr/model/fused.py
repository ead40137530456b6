"""The fused `nn.LSTM` / `nn.GRU` run on padded batches, exactly as on packed ones, at oneDNN's speed.

PyTorch's CPU kernel for these layers (oneDNN) takes only padded input; a PackedSequence falls back to a
step-by-step loop that trains 2-3x slower. A bidirectional layer cannot simply run on a padded batch: its
backward direction would start in the padding and carry it into every valid frame. So each direction is one
call on the padded batch: the forward direction as it is (padding comes after each sequence's valid frames, so
it never reaches them), the backward direction on each sequence reversed *within its own length* (Kaldi and
EESEN do the same), whose output is reversed back. Valid outputs and all gradients equal the packed path's
within float rounding (tests/model/test_fused.py); outputs at padding are zero, as `pad_packed_sequence` leaves them.
When every sequence has the full length (one utterance), the layer is one ordinary call.

Layout: (N, T, C) batch first, lengths (N,) on the CPU; returns (N, T, D * H). Same parameters, names and
state dict as nn.LSTM / nn.GRU; a PackedSequence still works as before.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
from torch.nn.utils.rnn import PackedSequence

from asr.model.cells import reverse_index as time_reversal


def reverse_index(lengths: torch.Tensor, total: int) -> torch.Tensor:
    """(N * T,) row indices into a flattened (N * T, C) batch that reverse each sequence within its length
    (padding rows stay where they are); applying it twice is the identity."""
    within = time_reversal(lengths.to("cpu", torch.long), total).T  # (N, T): the written-out cells' index
    return (within + torch.arange(len(lengths))[:, None] * total).reshape(-1)


class PaddedRNN:
    takes_padded = True  # the Encoder passes (N, T, C) and lengths instead of packing

    def forward(self, x, lengths: torch.Tensor | None = None, zero_padding: bool = True):
        """`zero_padding` False leaves the outputs at padding as they come (bounded, |h| < 1, and never reaching a
        valid frame of a later layer: the forward direction meets them after a sequence's frames, the reversed
        backward direction too), saving a multiply forward and backward; the caller zeroes them once."""
        if isinstance(x, PackedSequence) or lengths is None:
            return super().forward(x)
        if self.num_layers != 1 or not self.batch_first:
            raise ValueError("padded input needs a single-layer, batch_first module")
        n, total, _ = x.shape
        lengths = lengths.to("cpu")
        full = bool((lengths == total).all())
        if not self.bidirectional or full:
            out = super().forward(x)[0]
            return (out if full or not zero_padding else out * _mask(lengths, total, x)), None
        per_dir = len(self._flat_weights) // 2
        fwd = self._direction(x, self._flat_weights[:per_dir])
        rev = reverse_index(lengths, total).to(x.device)
        bwd = self._direction(_Reverse.apply(x, rev), self._flat_weights[per_dir:])
        out = torch.cat([fwd, _Reverse.apply(bwd, rev)], dim=2)
        return (out * _mask(lengths, total, x) if zero_padding else out), None


class _Reverse(torch.autograd.Function):
    """(N, T, C) rows permuted by `reverse_index` (its own inverse), so the gradient is permuted the same way:
    a gather both ways, where index_select's backward would scatter-add."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, rev: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rev)
        n, total, c = x.shape
        return x.reshape(n * total, c).index_select(0, rev).view(n, total, c)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (rev,) = ctx.saved_tensors
        n, total, c = grad.shape
        return grad.reshape(n * total, c).index_select(0, rev).view(n, total, c), None


def _mask(lengths: torch.Tensor, total: int, like: torch.Tensor) -> torch.Tensor:
    """(N, T, 1): 1 at valid frames, 0 at padding."""
    return (torch.arange(total)[None, :] < lengths[:, None]).to(like.device, like.dtype).unsqueeze(-1)


class PaddedLSTM(PaddedRNN, nn.LSTM):
    def _direction(self, x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        h0 = x.new_zeros(1, x.shape[0], self.proj_size or self.hidden_size)
        c0 = x.new_zeros(1, x.shape[0], self.hidden_size)
        if not self.proj_size:
            return torch.lstm(x, (h0, c0), weights, self.bias, 1, 0.0, self.training, False, True)[0]
        with warnings.catch_warnings():  # "LSTM with projections is not supported with oneDNN": known
            warnings.simplefilter("ignore", UserWarning)
            return torch.lstm(x, (h0, c0), weights, self.bias, 1, 0.0, self.training, False, True)[0]


class PaddedGRU(PaddedRNN, nn.GRU):
    def _direction(self, x: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        h0 = x.new_zeros(1, x.shape[0], self.hidden_size)
        return torch.gru(x, h0, weights, self.bias, 1, 0.0, self.training, False, True)[0]
