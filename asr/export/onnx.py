"""`asr export MODEL model.onnx`: the whole network, raw features -> log-probabilities, as one ONNX graph.

    inputs   feats (N, T, D) float32 raw features, lengths (N,) int64       (N and T dynamic)
    outputs  log_probs (N, T', V) float32, out_lengths (N,) int64            T' = ceil(T / subsample)

CMVN (global, or per-utterance CMN), frame stacking/subsampling, the recurrent layers, the ESPnet-style projection
and the output layer are all in the graph, so a runtime needs nothing but features (asr.runtime). The tokens,
feature options, the unit kind and the model's decoding settings go into the file's metadata (`asr.*` keys), so
the one file is complete for greedy and prefix-beam decoding.

Which ONNX op each recurrent kind becomes (the export module is written for the exporter; its PyTorch forward
only gives shapes, for tracing):

    lstm, lstm-ref   ONNX LSTM (bidirectional, sequence_lens: each sequence reversed within its own length)
    peephole         ONNX LSTM with its peephole input P
    cifg             ONNX LSTM with the input gate's weights the negated forget gate's (sigmoid(-a) = 1 - sigmoid(a))
    gru, gru-ref     ONNX GRU (linear_before_reset=1, nn.GRU's candidate)
    any LSTM kind with recurrent_proj_size (LSTMP)   ONNX Loop over time (a TorchScript loop): no ONNX op projects

The exporter is torch.onnx's TorchScript one (dynamo=False): it maps an autograd.Function's `symbolic` to the ONNX
LSTM/GRU op with sequence_lens and a scripted loop to Loop; torch.export cannot trace a loop of dynamic length.
"""

from __future__ import annotations

import functools
import io
import json
import os
import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from asr.errors import ConfigError
from asr.model.ensemble import check_single
from asr.model.model import SPEAKER_CMN, CTCModel, utterance_cmn, utterance_cmvn

OPSET = 17
META_PREFIX = "asr."


def _none(g):
    n = g.op("prim::Constant")
    n.setType(torch._C.OptionalType.ofTensor())
    return n


class _RNNOp(torch.autograd.Function):
    """The ONNX LSTM or GRU op: x (T, N, I), lengths (N,) -> Y (T, D, N, H). Forward: shapes only."""

    @staticmethod
    def forward(ctx, x, lengths, w, r, b, p, op: str, hidden: int):
        return x.new_zeros(x.shape[0], w.shape[0], x.shape[1], hidden)

    @staticmethod
    def symbolic(g, x, lengths, w, r, b, p, op: str, hidden: int):
        lens = g.op("Cast", lengths, to_i=6)  # int32, as the op wants
        direction = "bidirectional" if w.type().sizes()[0] == 2 else "forward"
        if op == "LSTM":
            y, _, _ = g.op("LSTM", x, w, r, b, lens, _none(g), _none(g), p, direction_s=direction,
                           hidden_size_i=hidden, outputs=3)
        else:
            y, _ = g.op("GRU", x, w, r, b, lens, _none(g), direction_s=direction, hidden_size_i=hidden,
                        linear_before_reset_i=1, outputs=2)
        return y


def lstmp_loop(xw: torch.Tensor, w_hh_t: torch.Tensor, w_hr_t: torch.Tensor, p_i: torch.Tensor, p_f: torch.Tensor,
               p_o: torch.Tensor) -> torch.Tensor:
    """LSTMP recurrence: xw (D, T, N, 4H) input projections (gates i, f, g, o, biases in), w_hh_t (D, P, 4H),
    w_hr_t (D, H, P), peepholes p_* (D, 1, H) (zeros without) -> r (D, T, N, P)."""
    d, steps, n = xw.size(0), xw.size(1), xw.size(2)
    hid = xw.size(3) // 4
    r = torch.zeros(d, n, w_hr_t.size(2), dtype=xw.dtype)
    c = torch.zeros(d, n, hid, dtype=xw.dtype)
    outs: list[torch.Tensor] = []
    for t in range(steps):
        a = xw[:, t] + torch.bmm(r, w_hh_t)
        i = torch.sigmoid(a[:, :, :hid] + p_i * c)
        f = torch.sigmoid(a[:, :, hid:2 * hid] + p_f * c)
        g = torch.tanh(a[:, :, 2 * hid:3 * hid])
        c = f * c + i * g
        o = torch.sigmoid(a[:, :, 3 * hid:] + p_o * c)
        r = torch.bmm(o * torch.tanh(c), w_hr_t)
        outs.append(r)
    return torch.stack(outs, 1)


@functools.cache
def _scripted_loop():
    """lstmp_loop compiled by TorchScript, which the exporter turns into an ONNX Loop."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated; the TorchScript exporter needs it
        return torch.jit.script(lstmp_loop)


def _reverse_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(T, N) time index reversing each sequence within its length (asr.model.cells.reverse_index)."""
    t = torch.arange(steps).unsqueeze(1)
    return torch.where(t < lengths, lengths - 1 - t, t)


def _lstm_gates(layer: nn.Module, name: str, suffix: str, coupled: bool) -> list[torch.Tensor]:
    """Parameter `name` of one direction split into the 4 gates i, f, g, o (CIFG: i = the negated f)."""
    w = getattr(layer, name + suffix).detach().float()
    if coupled:
        f, g, o = w.chunk(3, 0)
        return [-f, f, g, o]
    return list(w.chunk(4, 0))


class _Layer(nn.Module):
    """One recurrent layer of the model as ONNX-exportable ops (see the module docstring)."""

    def __init__(self, layer: nn.Module, cell: str):
        super().__init__()
        self.cell = cell
        self.hidden = layer.hidden_size
        self.proj = int(getattr(layer, "proj_size", 0) or 0)
        suffixes = ["_l0", "_l0_reverse"] if layer.bidirectional else ["_l0"]
        is_gru = cell in ("gru", "gru-ref")
        coupled = cell == "cifg"
        peephole = cell == "peephole"

        def stack(fn):
            return torch.stack([fn(s) for s in suffixes])

        if is_gru:  # nn.GRU's gates r, z, n -> ONNX z, r, h
            def zrh(name, s):
                r_, z_, n_ = getattr(layer, name + s).detach().float().chunk(3, 0)
                return torch.cat([z_, r_, n_])

            self.op = "GRU"
            self.register_buffer("w", stack(lambda s: zrh("weight_ih", s)))
            self.register_buffer("r", stack(lambda s: zrh("weight_hh", s)))
            self.register_buffer("b", stack(lambda s: torch.cat([zrh("bias_ih", s), zrh("bias_hh", s)])))
            self.register_buffer("p", torch.zeros(0))
            return
        h = self.hidden
        if peephole:
            def peep(s):
                return [getattr(layer, n + s).detach().float() for n in ("weight_ci", "weight_cf", "weight_co")]
        else:
            def peep(s):
                return [torch.zeros(h)] * 3
        if not self.proj:  # ONNX LSTM: gates i, o, f, c; peepholes i, o, f
            def iofc(name, s):
                i, f, g, o = _lstm_gates(layer, name, s, coupled)
                return torch.cat([i, o, f, g])

            self.op = "LSTM"
            self.register_buffer("w", stack(lambda s: iofc("weight_ih", s)))
            self.register_buffer("r", stack(lambda s: iofc("weight_hh", s)))
            self.register_buffer("b", stack(lambda s: torch.cat([iofc("bias_ih", s), iofc("bias_hh", s)])))
            self.register_buffer("p", stack(lambda s: torch.cat([peep(s)[0], peep(s)[2], peep(s)[1]])))
            return
        self.op = "loop"  # LSTMP: gates i, f, g, o as in the model
        self.register_buffer("w_ih_t", stack(lambda s: torch.cat(_lstm_gates(layer, "weight_ih", s, coupled)).T))
        self.register_buffer("w_hh_t", stack(lambda s: torch.cat(_lstm_gates(layer, "weight_hh", s, coupled)).T))
        self.register_buffer("bias", stack(lambda s: torch.cat(_lstm_gates(layer, "bias_ih", s, coupled))
                                           + torch.cat(_lstm_gates(layer, "bias_hh", s, coupled))).unsqueeze(1))
        self.register_buffer("w_hr_t", stack(lambda s: getattr(layer, "weight_hr" + s).detach().float().T))
        self.register_buffer("peep", stack(lambda s: torch.stack(peep(s)).unsqueeze(1)))  # (D, 3, 1, H)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        n, total = x.shape[0], x.shape[1]
        if self.op != "loop":
            y = _RNNOp.apply(x.transpose(0, 1), lengths, self.w, self.r, self.b, self.p, self.op, self.hidden)
            return y.permute(2, 0, 1, 3).reshape(n, total, -1)
        xt = x.transpose(0, 1)  # (T, N, I)
        rev = _reverse_index(lengths, total)
        dirs = self.w_ih_t.shape[0]
        xs = torch.stack([xt, xt.gather(0, rev.unsqueeze(2).expand_as(xt))]) if dirs == 2 else xt.unsqueeze(0)
        xw = torch.matmul(xs, self.w_ih_t.unsqueeze(1)) + self.bias.unsqueeze(1)  # (D, T, N, 4H)
        y = _scripted_loop()(xw, self.w_hh_t, self.w_hr_t, self.peep[:, 0], self.peep[:, 1], self.peep[:, 2])
        parts = [y[0]]
        if dirs == 2:
            parts.append(y[1].gather(0, rev.unsqueeze(2).expand_as(y[1])))
        return torch.cat(parts, 2).transpose(0, 1)


class ExportModule(nn.Module):
    """A trained CTCModel rewritten in ops the ONNX exporter maps (for tracing, not for running in PyTorch)."""

    def __init__(self, model: CTCModel):
        super().__init__()
        cfg = model.config
        self.cfg = cfg
        self.register_buffer("shift", model.cmvn.shift.detach().float().clone())
        self.register_buffer("scale", model.cmvn.scale.detach().float().clone())
        self.layers = nn.ModuleList(_Layer(rnn, cfg.cell) for rnn in model.encoder.rnns)
        self.projs = model.encoder.projs
        self.use_proj = model.encoder.use_proj
        self.output = model.output

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        cfg = self.cfg
        if cfg.cmn == "utterance":
            x = utterance_cmn(feats, lengths) * self.scale
        elif cfg.cmn == "utterance_mv":
            x = utterance_cmvn(feats, lengths)
        else:
            x = (feats + self.shift) * self.scale
        x, lengths = self.stack(x, lengths)
        total = x.shape[1]
        mask = (torch.arange(total).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).unsqueeze(2)
        for layer, proj in zip(self.layers, self.projs):
            x = layer(x, lengths) * mask
            if self.use_proj:
                x = torch.tanh(proj(x))
        return F.log_softmax(self.output(x), dim=-1), lengths

    def stack(self, x: torch.Tensor, lengths: torch.Tensor):
        """asr.model.model.stack_frames with one gather (no unfold): frame t' splices frames t'*s ... t'*s+k-1,
        each clamped to its utterance's last frame."""
        k, s = self.cfg.stack_frames, self.cfg.subsample
        if k == 1 and s == 1:
            return x, lengths
        n, t, d = x.shape
        out_t = (t + s - 1) // s
        idx = (torch.arange(out_t) * s).unsqueeze(1) + torch.arange(k).unsqueeze(0)  # (T', k)
        idx = torch.minimum(idx.unsqueeze(0), (lengths - 1).clamp(min=0).view(-1, 1, 1))  # (N, T', k)
        x = x.gather(1, idx.reshape(n, -1, 1).expand(n, out_t * k, d))
        return x.reshape(n, out_t, k * d), (lengths + s - 1) // s


def to_onnx_bytes(model: CTCModel) -> bytes:
    """The ONNX graph of `model` (raw features + lengths -> log-probs + output lengths)."""
    module = ExportModule(model.float().cpu().eval()).eval()
    feats = torch.zeros(2, 11, model.config.input_dim)
    lengths = torch.tensor([11, 7])
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings: known
        torch.onnx.export(module, (feats, lengths), buf, dynamo=False, opset_version=OPSET,
                          input_names=["feats", "lengths"], output_names=["log_probs", "out_lengths"],
                          dynamic_axes={"feats": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                                        "log_probs": {0: "batch", 1: "frames"}, "out_lengths": {0: "batch"}})
    return buf.getvalue()


def metadata(loaded) -> dict[str, str]:
    """What a runtime needs beside the graph (asr.runtime.bundle reads it): JSON strings under `asr.` keys."""
    tok = loaded.tokenizer
    cfg = loaded.model.config
    decoding = {k: v for k, v in (loaded.config.get("decoding") or {}).items()
                if k in ("decoder", "beam_size")}
    return {META_PREFIX + k: json.dumps(v) for k, v in {
        "format_version": 1,
        "tokens": tok.tokens,
        "units": tok.kind,
        "features": loaded.features.to_dict(),
        "model": {"cell": cfg.cell, "subsample": cfg.subsample, "stack_frames": cfg.stack_frames,
                  "input_dim": cfg.input_dim, "vocab_size": cfg.vocab_size},
        "decoding": decoding,
    }.items()}


def with_metadata(data: bytes, meta: dict[str, str]) -> bytes:
    """ONNX model bytes with `meta` added to its metadata_props."""
    import onnx

    proto = onnx.load_from_string(data)
    old = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**old, **meta})
    return proto.SerializeToString()


def export_onnx(model_path: str | os.PathLike, out: str | os.PathLike, quantize: str | None = None) -> Path:
    """Write model dir / `.asr` file `model_path` as one ONNX file `out` (graph + metadata); `quantize`
    "int8": dynamic int8 quantisation of the LSTM/GRU and matrix-product weights (onnxruntime.quantization)."""
    from asr.export.package import load_model
    from asr.fileio import atomic_write

    out = Path(out)
    loaded = load_model(model_path)
    if loaded.tokenizer.kind == "phone":
        raise ConfigError(f"{model_path}: phone units need a lexicon decoder, which the ONNX runtime lacks")
    if loaded.model.config.cmn in SPEAKER_CMN:
        raise ConfigError(f"{model_path}: cmn: {loaded.model.config.cmn} needs each speaker's mean over their "
                          "recordings, which the ONNX runtime does not compute (it takes recordings one by one)")
    check_single(loaded.model, "ONNX export")
    data = with_metadata(to_onnx_bytes(loaded.model), metadata(loaded))
    if quantize:
        data = quantize_onnx(data, quantize)
    with atomic_write(out, "wb") as f:
        f.write(data)
    return out


def quantize_onnx(data: bytes, kind: str) -> bytes:
    """Dynamic quantisation of an ONNX model's weights: int8 (onnxruntime.quantization.quantize_dynamic)."""
    if kind != "int8":
        raise ConfigError(f"quantisation must be int8, not '{kind}'")
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(data)
        # 7-bit weights (reduce_range): on x86 CPUs without VNNI (AVX2, AVX-512F) the u8 x s8 products are summed
        # in pairs into int16 and saturate; measured on an AVX2 machine, outputs off by up to 2.0 in log-prob
        # with 8 bits and at most 0.2 with 7 (tests/export/test_onnx.py). onnxruntime's docs advise the same.
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, reduce_range=True)
        proto = onnx.load(dst)
        meta = {p.key: p.value for p in onnx.load(src, load_external_data=False).metadata_props}
        onnx.helper.set_model_props(proto, {**meta, META_PREFIX + "quantized": json.dumps(kind)})
        return proto.SerializeToString()
