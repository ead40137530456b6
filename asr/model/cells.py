"""The recurrent cells of the encoder, written out from their gate equations (docs/lstm.md).

    lstm-ref  the LSTM of nn.LSTM (gates i, f, g, o), for checking and teaching
    peephole  Gers & Schmidhuber: i and f also see c(t-1), o sees c(t)
    cifg      coupled input and forget gates: i = 1 - f (3 gates)
    gru-ref   the GRU of nn.GRU (gates r, z, n)
`lstm` and `gru` (in asr.model.model) are the fused nn.LSTM / nn.GRU. Every LSTM kind takes a recurrent
projection (LSTMP, Sak et al. 2014: r(t) = W_hr h(t) is both the output and the recurrent input).

Speed: the input projections of all steps and both directions are one matrix product; only the recurrence
is in the loop, which is TorchScript-compiled, and its backward pass is written out (one matrix product per
step; the weight gradients are one product over all steps). Both directions run in the same loop (batched
matmul over the direction axis). The backward direction reverses each sequence within its own length, so
every sequence starts at step 0 and padding frames come after the valid ones: they cannot change them.

Parameters have nn.LSTM's / nn.GRU's names, shapes and initialisation (weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0, weight_hr_l0, `_reverse` for the backward direction), so a fused layer's state dict
loads into its written-out twin and both report the same parameter count. Peephole weights are
weight_ci_l0, weight_cf_l0, weight_co_l0 (one vector of H each, per direction).

Layouts: a layer takes (N, T, I) + lengths (N,) (or a batch_first PackedSequence, as nn.LSTM does) and
returns (N, T, D * P) with zeros at padding frames (D directions, P = proj_size or hidden_size). Inside,
tensors are direction-major (D, T, N, C).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from asr.errors import ConfigError

LSTM_KINDS = {"lstm-ref": (False, False), "peephole": (True, False), "cifg": (False, True)}  # peephole, coupled
CELLS = ("lstm", "lstm-ref", "peephole", "cifg", "gru", "gru-ref")


# ---- the recurrences (TorchScript) --------------------------------------------------------------------------
# Shapes: D directions, T steps, N sequences, H cells, P = proj_size or H. Each `*_forward` reads like the gate
# equations and returns what its `*_backward` needs; the backward passes are those equations differentiated,
# with every factor that does not depend on the recursion computed for all steps before the loop.
# Per step the loops issue one matrix product and a few small elementwise ops: on a CPU shared with other
# work each op that starts a thread team can wait a whole scheduler tick for it, so the loops avoid ops that
# do (torch.tanh is MKL VML, which splits every 2048 elements) and write results in place with `out=`.


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1 (the same function; see above for why not torch.tanh)."""
    return torch.sigmoid(2.0 * x) * 2.0 - 1.0


def lstm_forward(xw: torch.Tensor, w_hh: torch.Tensor, w_hr: torch.Tensor, w_peep: torch.Tensor,
                 peephole: bool, coupled: bool, r0: Optional[torch.Tensor] = None,
                 c0: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw (D, T, N, G*H): W_ih x(t) + b_ih + b_hh for all steps, gates (i,) f, g, o; w_hh (D, G*H, P);
    w_hr (D, P, H) or empty (no projection); w_peep (D, 3, H): w_ci, w_cf, w_co, or empty; r0 (D, N, P) and
    c0 (D, N, H): the state before the first step (None: zeros; streaming carries it across chunks).
    Returns out (D, T, N, P), h (D, T, N, H), c (D, T, N, H), gates (D, T, N, 4, H): i, f, g, o."""
    d, steps, n, gh = xw.shape
    num_gates = 3 if coupled else 4
    hid = gh // num_gates
    proj = w_hr.numel() > 0
    w_hh_t = w_hh.transpose(1, 2)
    w_hr_t = w_hr.transpose(1, 2) if proj else w_hr
    r = xw.new_zeros(d, n, w_hh.shape[2]) if r0 is None else r0  # r(t-1): h(t-1), or its projection
    c = xw.new_zeros(d, n, hid) if c0 is None else c0  # c(t-1)
    w_ci = w_peep[:, 0].unsqueeze(1) if peephole else w_peep
    w_cf = w_peep[:, 1].unsqueeze(1) if peephole else w_peep
    w_co = w_peep[:, 2].unsqueeze(1) if peephole else w_peep
    k = 0 if coupled else 1  # index of the forget gate
    outs: List[torch.Tensor] = []
    hs: List[torch.Tensor] = []
    cs: List[torch.Tensor] = []
    gates: List[torch.Tensor] = []
    for t in range(steps):
        x = xw[:, t].view(d, n, num_gates, hid)
        hh = torch.bmm(r, w_hh_t).view(d, n, num_gates, hid)
        a_f = x[:, :, k] + hh[:, :, k]
        if peephole:
            a_f = torch.addcmul(a_f, w_cf, c)
        f = torch.sigmoid(a_f)  # forget gate: how much of c(t-1) to keep
        if coupled:
            i = 1.0 - f  # CIFG: what is forgotten is replaced
        else:
            a_i = x[:, :, 0] + hh[:, :, 0]
            if peephole:
                a_i = torch.addcmul(a_i, w_ci, c)
            i = torch.sigmoid(a_i)  # input gate: which cells to update
        g = tanh(x[:, :, k + 1] + hh[:, :, k + 1])  # candidate values
        c = torch.addcmul(f * c, i, g)  # c = f * c(t-1) + i * g: the cell state, the conveyor belt
        a_o = x[:, :, k + 2] + hh[:, :, k + 2]
        if peephole:
            a_o = torch.addcmul(a_o, w_co, c)
        o = torch.sigmoid(a_o)  # output gate: what of tanh(c) to show
        h = o * tanh(c)
        r = torch.bmm(h, w_hr_t) if proj else h  # LSTMP: r(t) = W_hr h(t)
        outs.append(r)
        hs.append(h)
        cs.append(c)
        gates += [i, f, g, o]
    h_all = torch.stack(hs, 1)
    out = torch.stack(outs, 1) if proj else h_all
    return out, h_all, torch.stack(cs, 1), torch.stack(gates, 2).view(d, n, steps, 4, hid).transpose(1, 2)


def lstm_backward(d_out: torch.Tensor, out: torch.Tensor, hs: torch.Tensor, cs: torch.Tensor,
                  gates: torch.Tensor, w_hh: torch.Tensor, w_hr: torch.Tensor, w_peep: torch.Tensor,
                  peephole: bool, coupled: bool, r0: torch.Tensor, c0: torch.Tensor, d_c_last: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (d_xw, d_w_hh, d_w_hr, d_w_peep, d_r0, d_c0) of `lstm_forward` started from (r0, c0), given
    d_out (D, T, N, P) and the gradient of the last cell state d_c_last (D, N, H)."""
    d, steps, n, _, hid = gates.shape
    num_gates = 3 if coupled else 4
    proj = w_hr.numel() > 0
    p = w_hh.shape[2]
    i, f, g, o = gates.unbind(3)
    c_prev = torch.cat([c0.unsqueeze(1), cs[:, :-1]], 1)
    tc = tanh(cs)
    # dc(t) = dc(t+1) f(t+1) + dh(t) k_c + (peepholes); the gate pre-activations' gradients are
    # da_o = dh k_o and [da_i,] da_f, da_g = dc [k_i,] k_f, k_g.
    k_c = o * (1.0 - tc * tc)
    k_o = tc * o * (1.0 - o)
    k_g = i * (1.0 - g * g)
    if coupled:  # c = f c' + (1 - f) g
        k = torch.stack([(c_prev - g) * f * (1.0 - f), k_g], 3)
    else:
        k = torch.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f), k_g], 3)
    da = gates.new_empty(d, steps, n, num_gates, hid)  # gradient of the gate pre-activations
    dr_all = out.new_empty(d, steps, n, p) if proj else out
    dc = d_c_last
    w_ci = w_peep[:, 0].unsqueeze(1) if peephole else w_peep
    w_cf = w_peep[:, 1].unsqueeze(1) if peephole else w_peep
    w_co = w_peep[:, 2].unsqueeze(1) if peephole else w_peep
    for t in range(steps - 1, -1, -1):
        dr = d_out[:, t]
        if t + 1 < steps:
            dr = torch.baddbmm(dr, da[:, t + 1].view(d, n, num_gates * hid), w_hh)
        if proj:
            dr_all[:, t] = dr
            dh = torch.bmm(dr, w_hr)
        else:
            dh = dr
        da_o = torch.mul(dh, k_o[:, t], out=da[:, t, :, num_gates - 1])
        dc = torch.addcmul(dc, dh, k_c[:, t])
        if peephole:
            dc = torch.addcmul(dc, da_o, w_co)
        da_t = torch.mul(dc.unsqueeze(2), k[:, t], out=da[:, t, :, :num_gates - 1])
        dc = dc * f[:, t]  # -> dc(t-1)
        if peephole:
            dc = torch.addcmul(torch.addcmul(dc, da_t[:, :, 0], w_ci), da_t[:, :, 1], w_cf)
    d_r0 = torch.bmm(da[:, 0].reshape(d, n, num_gates * hid), w_hh)
    r_prev = torch.cat([r0.unsqueeze(1), out[:, :-1]], 1)
    da_flat = da.view(d, steps * n, num_gates * hid)
    d_w_hh = torch.bmm(da_flat.transpose(1, 2), r_prev.reshape(d, steps * n, p))
    d_w_hr = w_hr
    if proj:
        d_w_hr = torch.bmm(dr_all.view(d, steps * n, p).transpose(1, 2), hs.reshape(d, steps * n, hid))
    d_w_peep = w_peep
    if peephole:
        d_w_peep = torch.stack([(da[:, :, :, 0] * c_prev).sum((1, 2)), (da[:, :, :, 1] * c_prev).sum((1, 2)),
                                (da[:, :, :, 3] * cs).sum((1, 2))], 1)
    return da.view(d, steps, n, num_gates * hid), d_w_hh, d_w_hr, d_w_peep, d_r0, dc


def gru_forward(xw: torch.Tensor, w_hh: torch.Tensor, b_hn: torch.Tensor,
                h0: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """xw (D, T, N, 3H): W_ih x(t) + b_ih + [b_hr, b_hz, 0], gates r, z, n (nn.GRU's order); w_hh (D, 3H, H);
    b_hn (D, H); h0 (D, N, H) the state before the first step (None: zeros). Returns h (D, T, N, H), gates
    (D, T, N, 3, H): r, z, n, and W_hn h(t-1) + b_hn (D, T, N, H)."""
    d, steps, n, gh = xw.shape
    hid = gh // 3
    w_hh_t = w_hh.transpose(1, 2)
    b_hn = b_hn.unsqueeze(1)
    h = xw.new_zeros(d, n, hid) if h0 is None else h0
    hs: List[torch.Tensor] = []
    gates: List[torch.Tensor] = []
    hns: List[torch.Tensor] = []
    for t in range(steps):
        x = xw[:, t].view(d, n, 3, hid)
        hh = torch.bmm(h, w_hh_t).view(d, n, 3, hid)
        r = torch.sigmoid(x[:, :, 0] + hh[:, :, 0])  # reset gate: how much of h(t-1) the candidate sees
        z = torch.sigmoid(x[:, :, 1] + hh[:, :, 1])  # update gate: how much of h(t-1) to keep
        hn = hh[:, :, 2] + b_hn
        cand = tanh(torch.addcmul(x[:, :, 2], r, hn))  # candidate state
        h = torch.addcmul(cand, z, h - cand)  # h = (1 - z) * n + z * h(t-1)
        hs.append(h)
        gates += [r, z, cand]
        hns.append(hn)
    return (torch.stack(hs, 1), torch.stack(gates, 2).view(d, n, steps, 3, hid).transpose(1, 2),
            torch.stack(hns, 1))


def gru_backward(d_out: torch.Tensor, hs: torch.Tensor, gates: torch.Tensor, hns: torch.Tensor,
                 w_hh: torch.Tensor, h0: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (d_xw, d_w_hh, d_b_hn, d_h0) of `gru_forward` started from h0, given d_out (D, T, N, H)."""
    d, steps, n, _, hid = gates.shape
    r, z, cand = gates.unbind(3)
    h_prev = torch.cat([h0.unsqueeze(1), hs[:, :-1]], 1)
    # dh(t) = d_out(t) + dh(t+1) z(t+1) + d_hh(t+1) W_hh, and with it every other gradient is dh(t) * a factor:
    k_n = (1.0 - z) * (1.0 - cand * cand)  # d(candidate pre-activation)
    k_r = k_n * hns * r * (1.0 - r)
    k_z = (h_prev - cand) * z * (1.0 - z)
    k_x = torch.stack([k_r, k_z, k_n], 3)  # d(xw)
    k_h = torch.stack([k_r, k_z, k_n * r], 3)  # d(W_hh h(t-1) + [0, 0, b_hn])
    d_xw = gates.new_empty(d, steps, n, 3, hid)
    d_hh = gates.new_empty(d, steps, n, 3, hid)
    carry = hs.new_zeros(d, n, hid)
    for t in range(steps - 1, -1, -1):
        dh = (d_out[:, t] + carry).unsqueeze(2)
        torch.mul(dh, k_x[:, t], out=d_xw[:, t])
        d_hh_t = torch.mul(dh, k_h[:, t], out=d_hh[:, t])
        carry = torch.baddbmm(dh.squeeze(2) * z[:, t], d_hh_t.view(d, n, 3 * hid), w_hh)
    d_hh_flat = d_hh.view(d, steps * n, 3 * hid)
    d_w_hh = torch.bmm(d_hh_flat.transpose(1, 2), h_prev.reshape(d, steps * n, hid))
    return d_xw.view(d, steps, n, 3 * hid), d_w_hh, d_hh[:, :, :, 2].sum((1, 2)), carry


@functools.cache
def _compiled(name: str):
    """The TorchScript version of one of the functions above (the Python one if scripting is unavailable)."""
    fn = globals()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated in favour of torch.compile
        try:
            return torch.jit.script(fn)
        except Exception:  # pragma: no cover - TorchScript removed or broken: same maths, slower
            return fn


class _LSTMFunction(torch.autograd.Function):
    """-> (out (D, T, N, P), the last cell state (D, N, H)); r0, c0: the initial state (None: zeros)."""

    @staticmethod
    def forward(ctx, xw, w_hh, w_hr, w_peep, peephole: bool, coupled: bool, r0=None, c0=None):
        ctx.num_inputs = 6 + (r0 is not None) + (c0 is not None)
        d, _, n, _ = xw.shape
        r0 = xw.new_zeros(d, n, w_hh.shape[2]) if r0 is None else r0
        c0 = xw.new_zeros(d, n, w_hh.shape[1] // (3 if coupled else 4)) if c0 is None else c0
        out, hs, cs, gates = _compiled("lstm_forward")(xw, w_hh, w_hr, w_peep, peephole, coupled, r0, c0)
        ctx.save_for_backward(out, hs, cs, gates, w_hh, w_hr, w_peep, r0, c0)
        ctx.flags = (peephole, coupled)
        return out, cs[:, -1]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_c_last):
        out, hs, cs, gates, w_hh, w_hr, w_peep, r0, c0 = ctx.saved_tensors
        d_xw, d_w_hh, d_w_hr, d_w_peep, d_r0, d_c0 = _compiled("lstm_backward")(
            d_out.contiguous(), out, hs, cs, gates, w_hh, w_hr, w_peep, *ctx.flags, r0, c0, d_c_last.contiguous())
        return (d_xw, d_w_hh, d_w_hr if w_hr.numel() else None, d_w_peep if w_peep.numel() else None,
                None, None, d_r0, d_c0)[:ctx.num_inputs]


class _GRUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw, w_hh, b_hn, h0=None):
        ctx.num_inputs = 3 + (h0 is not None)
        d, _, n, gh = xw.shape
        h0 = xw.new_zeros(d, n, gh // 3) if h0 is None else h0
        hs, gates, hns = _compiled("gru_forward")(xw, w_hh, b_hn, h0)
        ctx.save_for_backward(hs, gates, hns, w_hh, h0)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out):
        hs, gates, hns, w_hh, h0 = ctx.saved_tensors
        return _compiled("gru_backward")(d_out.contiguous(), hs, gates, hns, w_hh, h0)[:ctx.num_inputs]


# ---- layers ---------------------------------------------------------------------------------------------------


def reverse_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(T, N) time index that reverses each sequence within its own length; padding frames stay put."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(1)
    return torch.where(t < lengths, lengths - 1 - t, t)


class RecurrentLayer(nn.Module):
    """One (bi)directional written-out recurrent layer; subclasses define the gates and the recurrence."""

    num_gates = 4
    takes_padded = True  # the Encoder may call forward(x, lengths) instead of packing

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool, proj_size: int = 0):
        super().__init__()
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.bidirectional = bidirectional
        self.suffixes = ["_l0", "_l0_reverse"] if bidirectional else ["_l0"]
        out = proj_size or hidden_size
        gh = self.num_gates * hidden_size
        for s in self.suffixes:
            self.register_parameter("weight_ih" + s, nn.Parameter(torch.empty(gh, input_size)))
            self.register_parameter("weight_hh" + s, nn.Parameter(torch.empty(gh, out)))
            self.register_parameter("bias_ih" + s, nn.Parameter(torch.empty(gh)))
            self.register_parameter("bias_hh" + s, nn.Parameter(torch.empty(gh)))
            if proj_size:
                self.register_parameter("weight_hr" + s, nn.Parameter(torch.empty(proj_size, hidden_size)))

    def reset_parameters(self) -> None:
        """As nn.LSTM / nn.GRU: every parameter uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def stacked(self, name: str) -> torch.Tensor:
        """Parameter `name` of every direction, stacked: (D, ...)."""
        return torch.stack([getattr(self, name + s) for s in self.suffixes])

    def extra_repr(self) -> str:
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return f"{self.input_size}, {self.hidden_size}, bidirectional={self.bidirectional}{proj}"

    def project_inputs(self, x: torch.Tensor, lengths: torch.Tensor, bias: torch.Tensor):
        """x (N, T, I) -> W_ih x + bias for all steps and directions, (D, T, N, G*H), with the backward
        direction's sequences reversed; also returns the reversing index (T, N) (None if unidirectional)."""
        xt = x.transpose(0, 1)  # (T, N, I)
        rev = None
        if self.bidirectional:
            rev = reverse_index(lengths, xt.shape[0])
            xt = torch.stack([xt, xt.gather(0, rev.unsqueeze(2).expand_as(xt))])
        else:
            xt = xt.unsqueeze(0)
        d, steps, n, _ = xt.shape
        w_ih = self.stacked("weight_ih").transpose(1, 2)
        xw = torch.baddbmm(bias.unsqueeze(1), xt.reshape(d, steps * n, -1), w_ih)
        return xw.view(d, steps, n, -1), rev

    @staticmethod
    def batch_major(y: torch.Tensor, rev: torch.Tensor | None) -> torch.Tensor:
        """(D, T, N, C) direction-major (backward direction reversed) -> (N, T, D*C) in natural time order."""
        parts = [y[0]]
        if rev is not None:
            parts.append(y[1].gather(0, rev.unsqueeze(2).expand_as(y[1])))
        return torch.cat(parts, 2).transpose(0, 1)

    def recurrence(self, xw: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x, lengths: torch.Tensor | None = None):
        """(N, T, I) + lengths (N,) -> ((N, T, D*P) zero at padding, None); or a PackedSequence in and out."""
        packed = isinstance(x, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(x, batch_first=True)
        elif lengths is None:
            raise ValueError("a padded input needs its lengths")
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected input (N, T, {self.input_size}), got {tuple(x.shape)}")
        total = x.shape[1]
        lengths = lengths.to(device=x.device, dtype=torch.long)
        steps = int(lengths.max()) if lengths.numel() else 0
        if steps > total or (lengths.numel() and int(lengths.min()) < 1):
            raise ValueError(f"lengths must be in 1..{total}")
        xw, rev = self.project_inputs(x[:, :steps], lengths, self.input_bias())
        y = self.batch_major(self.recurrence(xw), rev)
        mask = torch.arange(steps, device=x.device) < lengths.unsqueeze(1)
        y = y * mask.unsqueeze(2).to(y.dtype)
        if steps < total:
            y = nn.functional.pad(y, (0, 0, 0, total - steps))
        if packed:
            return pack_padded_sequence(y, lengths.cpu(), batch_first=True, enforce_sorted=False), None
        return y, None

    def input_bias(self) -> torch.Tensor:
        raise NotImplementedError

    def run(self, x: torch.Tensor, state=None):
        """A unidirectional layer from a given state (None: zeros) over (N, T, I), every frame valid ->
        ((N, T, P), the state after the last frame): what streaming and chunk-wise training carry across chunks."""
        if self.bidirectional:
            raise ValueError("only a unidirectional layer runs from a state")
        xw, _ = self.project_inputs(x, torch.full((x.shape[0],), x.shape[1]), self.input_bias())
        return self.run_projected(xw, state)

    def run_projected(self, xw: torch.Tensor, state):
        raise NotImplementedError

    def activations(self, xw: torch.Tensor) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def trace(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Dict[str, torch.Tensor]:
        """x (N, T, I) -> every step's gate activations and states, {name: (N, T, D, H)} in natural time
        order, zero at padding (LSTM kinds: i, f, g, o, c, h; GRU: r, z, n, h). For looking inside a
        layer (`asr inspect gates`); training never calls it, so it costs nothing there."""
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        lengths = lengths.to(device=x.device, dtype=torch.long)
        xw, rev = self.project_inputs(x, lengths, self.input_bias())
        mask = (torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)).to(x.dtype)[:, :, None, None]
        d = len(self.suffixes)
        return {k: self.batch_major(v, rev).unflatten(2, (d, -1)) * mask for k, v in self.activations(xw).items()}


class LSTMLayer(RecurrentLayer):
    """A written-out LSTM layer: `lstm-ref`, `peephole` or `cifg`, optionally with a recurrent projection.

    lstm-ref (as nn.LSTM), with sigma the logistic function and * the elementwise product:
        i = sigma(W_ii x + b_ii + W_hi r' + b_hi)      input gate         (r' = r(t-1), c' = c(t-1))
        f = sigma(W_if x + b_if + W_hf r' + b_hf)      forget gate
        g = tanh (W_ig x + b_ig + W_hg r' + b_hg)      candidate values
        o = sigma(W_io x + b_io + W_ho r' + b_ho)      output gate
        c = f * c' + i * g ;   h = o * tanh(c) ;   r = h, or W_hr h with a projection (LSTMP)
    peephole adds w_ci * c' to i's and w_cf * c' to f's pre-activation, and w_co * c to o's;
    cifg drops i's weights and sets i = 1 - f.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, bidirectional: bool, proj_size: int = 0):
        self.peephole, self.coupled = LSTM_KINDS[kind]
        self.kind = kind
        self.num_gates = 3 if self.coupled else 4
        super().__init__(input_size, hidden_size, bidirectional, proj_size)
        if self.peephole:
            for s in self.suffixes:
                for name in ("weight_ci", "weight_cf", "weight_co"):
                    self.register_parameter(name + s, nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{self.kind}, {super().extra_repr()}"

    def input_bias(self) -> torch.Tensor:
        return self.stacked("bias_ih") + self.stacked("bias_hh")

    def _weights(self):
        w_hr = self.stacked("weight_hr") if self.proj_size else self.weight_hh_l0.new_empty(0)
        if self.peephole:
            w_peep = torch.stack([self.stacked("weight_ci"), self.stacked("weight_cf"), self.stacked("weight_co")], 1)
        else:
            w_peep = self.weight_hh_l0.new_empty(0)
        return self.stacked("weight_hh"), w_hr, w_peep

    def recurrence(self, xw: torch.Tensor) -> torch.Tensor:
        return _LSTMFunction.apply(xw, *self._weights(), self.peephole, self.coupled)[0]

    def run_projected(self, xw: torch.Tensor, state):
        init = () if state is None else (state[0][None], state[1][None])
        out, c_last = _LSTMFunction.apply(xw, *self._weights(), self.peephole, self.coupled, *init)
        return out[0].transpose(0, 1), (out[0, -1], c_last[0])

    def activations(self, xw: torch.Tensor) -> Dict[str, torch.Tensor]:
        _, hs, cs, gates = _compiled("lstm_forward")(xw, *self._weights(), self.peephole, self.coupled)
        named = {k: gates[:, :, :, j] for j, k in enumerate("ifgo")}
        named.update(c=cs, h=hs)
        return named


class GRULayer(RecurrentLayer):
    """A written-out GRU layer, `gru-ref` (as nn.GRU):
        r = sigma(W_ir x + b_ir + W_hr h' + b_hr)      reset gate         (h' = h(t-1))
        z = sigma(W_iz x + b_iz + W_hz h' + b_hz)      update gate
        n = tanh (W_in x + b_in + r * (W_hn h' + b_hn))  candidate
        h = (1 - z) * n + z * h'
    """

    num_gates = 3
    kind = "gru-ref"

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool):
        super().__init__(input_size, hidden_size, bidirectional)
        self.reset_parameters()

    def input_bias(self) -> torch.Tensor:
        """b_ih + [b_hr, b_hz, 0]: b_hn stays in the recurrence, inside r * (W_hn h + b_hn)."""
        b_hh = self.stacked("bias_hh")
        return self.stacked("bias_ih") + torch.cat([b_hh[:, :2 * self.hidden_size],
                                                    torch.zeros_like(b_hh[:, 2 * self.hidden_size:])], 1)

    def _weights(self):
        return self.stacked("weight_hh"), self.stacked("bias_hh")[:, 2 * self.hidden_size:]

    def recurrence(self, xw: torch.Tensor) -> torch.Tensor:
        return _GRUFunction.apply(xw, *self._weights())

    def run_projected(self, xw: torch.Tensor, state):
        hs = _GRUFunction.apply(xw, *self._weights(), *(() if state is None else (state[None],)))
        return hs[0].transpose(0, 1), hs[0, -1]

    def activations(self, xw: torch.Tensor) -> Dict[str, torch.Tensor]:
        hs, gates, _ = _compiled("gru_forward")(xw, *self._weights())
        named = {k: gates[:, :, :, j] for j, k in enumerate("rzn")}
        named["h"] = hs
        return named


def make_layer(cell: str, input_size: int, hidden_size: int, bidirectional: bool, proj_size: int = 0) -> nn.Module:
    """A written-out recurrent layer of kind `cell` (lstm-ref, peephole, cifg or gru-ref)."""
    if cell in LSTM_KINDS:
        return LSTMLayer(cell, input_size, hidden_size, bidirectional, proj_size)
    if cell == "gru-ref":
        if proj_size:
            raise ConfigError("a recurrent projection (LSTMP) needs an LSTM kind of cell, not gru-ref")
        return GRULayer(input_size, hidden_size, bidirectional)
    raise ConfigError(f"unknown cell type '{cell}' (choose from {', '.join(CELLS)})")


def written_out_twin(layer: nn.Module) -> RecurrentLayer:
    """The written-out layer with the same weights as a fused nn.LSTM / nn.GRU (for tracing its gates)."""
    if isinstance(layer, RecurrentLayer):
        return layer
    if isinstance(layer, nn.LSTM):
        twin = LSTMLayer("lstm-ref", layer.input_size, layer.hidden_size, layer.bidirectional, layer.proj_size)
    elif isinstance(layer, nn.GRU):
        twin = GRULayer(layer.input_size, layer.hidden_size, layer.bidirectional)
    else:
        raise ConfigError(f"cannot trace the gates of {type(layer).__name__}")
    if layer.num_layers != 1:
        raise ConfigError("can only trace single-layer recurrent modules")
    twin.load_state_dict(layer.state_dict())
    return twin.to(next(layer.parameters()).device).eval()
