"""BiLSTM-CTC: frame stacking/subsampling (EESEN), stacked bidirectional recurrent layers with optional
projection and dropout, and a linear CTC output layer.

Layouts: features (N, T, D) with lengths (N,) -> stacked (N, T', D * stack_frames), T' = ceil(T / subsample)
-> encoder (N, T', H) -> log-probabilities (N, T', vocab). Time is subsampled once, at the input.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.config import section_from_dict
from asr.errors import ConfigError
from asr.features.cmvn import CMVN
from asr.model.cells import CELLS
from asr.model.fused import PaddedGRU, PaddedLSTM, PaddedRNN


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network; saved in every checkpoint and model dir."""

    input_dim: int = 80
    vocab_size: int = 0
    cell: str = "lstm"  # lstm | gru (fused) | lstm-ref | peephole | cifg | gru-ref (asr.model.cells)
    num_layers: int = 4
    hidden_size: int = 320  # per direction
    proj_size: int = 0  # 0: no projection; else a linear projection after each layer (ESPnet "blstmp")
    recurrent_proj_size: int = 0  # LSTMP (Sak et al. 2014): 0, or project h(t) inside each LSTM-kind layer
    bidirectional: bool = True
    dropout: float = 0.2
    stack_frames: int = 3  # EESEN: splice this many consecutive frames...
    subsample: int = 3  # ...and keep every subsample-th
    cmn: str = "global"  # global: the training set's mean and variance; utterance: each utterance's own mean
    # (over its frames, as Kaldi's per-utterance CMN) and the global variance, robust to a new speaker's level;
    # utterance_mv: each utterance's own mean and variance (Kaldi's per-utterance apply-cmvn --norm-vars);
    # running: a causal running mean (time constant cmn_time_constant frames, from the global mean) and the
    # global variance, for streaming models (docs/streaming.md); speaker: the mean of the speaker's utterances
    # (Kaldi's apply-cmvn --utt2spk; the caller subtracts it: the dataset and decoder from cmvn.scp, the
    # Transcriber from the recordings it is given) and the variance of the training set so normalised;
    # speaker_mv: the speaker's mean and variance (apply-cmvn --utt2spk --norm-vars)
    cmn_time_constant: float = 300.0  # cmn running: frames (300 = 3 s at a 10 ms shift)
    # Streaming (docs/streaming.md). bidirectional false: a causal stacked LSTM; right_context k > 0 adds a
    # lookahead layer after it (each output also sees the next k encoder frames). bidirectional with chunk_size:
    # a latency-controlled BLSTM (Chen & Huo 2016): chunks of chunk_size encoder frames, each with right_context
    # frames of look-ahead for the backward direction; forward state carried across chunks, backward restarted.
    chunk_size: int = 0  # encoder frames (after subsampling); 0: whole utterances (offline)
    right_context: int = 0  # encoder frames

    @property
    def streaming(self) -> bool:
        """Whether the encoder computes each output from a bounded look-ahead (asr.model.stream runs it)."""
        return not self.bidirectional or self.chunk_size > 0

    @property
    def lookahead_frames(self) -> int:
        """Encoder frames beyond an output's own frame that it depends on (the algorithmic latency, with the
        frame stacking's and the chunk's); None: the whole utterance."""
        if not self.streaming:
            return None
        return self.right_context + (self.chunk_size if self.bidirectional else 0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "ModelConfig":
        cfg = section_from_dict(cls, d, "model", choices={"cell": CELLS, "cmn": CMN_KINDS})
        where = (getattr(d, "where", None) or {}) if d else {}

        def fail(key: str, message: str):
            at = where.get(key)
            raise ConfigError(f"{at + ': ' if at else ''}model.{key}: {message}")

        if cfg.streaming and cfg.cmn in ("utterance", "utterance_mv") + SPEAKER_CMN:
            fail("cmn", f"{cfg.cmn} CMN subtracts the mean of a whole utterance or speaker, which a streaming "
                        "model does not have until the speaker stops: use cmn: global (the training set's CMVN) or "
                        "cmn: running (a causal running mean, time constant model.cmn_time_constant frames)")
        if cfg.chunk_size < 0 or cfg.right_context < 0:
            fail("chunk_size" if cfg.chunk_size < 0 else "right_context", "must be 0 or more")
        if cfg.bidirectional and not cfg.chunk_size and cfg.right_context:
            fail("right_context", "an offline BLSTM sees the whole utterance: set chunk_size (a latency-controlled "
                                  "BLSTM) or bidirectional: false (a causal LSTM with a lookahead layer)")
        if cfg.cmn_time_constant < 1:
            fail("cmn_time_constant", "must be at least 1 frame")
        return cfg


SPEAKER_CMN = ("speaker", "speaker_mv")  # normalised by the speaker's stats before the model (see ModelConfig.cmn)
CMN_KINDS = ("global", "utterance", "utterance_mv", "running") + SPEAKER_CMN
UTTERANCE_STD_FLOOR = 0.1  # utterance_mv: a bin (nearly) constant over an utterance is not blown up


def stack_frames(x: torch.Tensor, lengths: torch.Tensor, stack: int, subsample: int):
    """(N, T, D) -> (N, ceil(T/subsample), D*stack): frame t' splices frames t'*subsample ... +stack-1, each
    utterance padded past its end with its own last frame (so batching never changes a result);
    lengths become ceil(len/subsample)."""
    if stack == 1 and subsample == 1:
        return x, lengths
    n, t, d = x.shape
    out_t = (t + subsample - 1) // subsample
    need = (out_t - 1) * subsample + stack
    last = (lengths.to(x.device) - 1).clamp(min=0)[:, None]
    idx = torch.minimum(torch.arange(need, device=x.device)[None, :], last)  # (N, need)
    x = torch.gather(x, 1, idx[..., None].expand(n, need, d))
    x = x.unfold(1, stack, subsample)  # (N, T', D, stack)
    x = x.transpose(2, 3).reshape(n, out_t, d * stack)
    return x, (lengths + subsample - 1) // subsample


def utterance_cmn(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, T, D) minus each utterance's mean over its own frames (padding stays as it was: it is never read)."""
    valid = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)
    mean = (x * valid).sum(1, keepdim=True) / lengths.to(x.device).clamp(min=1)[:, None, None]
    return x - mean


def utterance_cmvn(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, T, D) minus each utterance's mean and divided by its standard deviation (floored), over its own
    frames, per dimension."""
    valid = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)
    count = lengths.to(x.device).clamp(min=1)[:, None, None]
    centred = utterance_cmn(x, lengths)
    var = (centred * centred * valid).sum(1, keepdim=True) / count
    return centred / var.sqrt().clamp(min=UTTERANCE_STD_FLOOR)


def running_cmn(x: torch.Tensor, mean: torch.Tensor, time_constant: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T, D) minus a causal running mean m(t) = m(t-1) + a (x(t) - m(t-1)), a = 1 - exp(-1/time_constant),
    m(-1) = `mean` ((D,) or (N, D)); returns it and m at the last frame (N, D), from which the next chunk of a
    stream goes on. Padding comes after each utterance's frames, so it never reaches them."""
    from torchaudio.functional import lfilter

    n, t, d = x.shape
    mean = mean.to(x.dtype).expand(n, d)
    if t == 0:
        return x, mean
    a = 1.0 - math.exp(-1.0 / time_constant)
    dev = (x - mean[:, None]).transpose(1, 2).reshape(n * d, t)
    m = lfilter(dev, x.new_tensor([1.0, a - 1.0]), x.new_tensor([a, 0.0]), clamp=False)
    m = m.view(n, d, t).transpose(1, 2) + mean[:, None]
    return x - m, m[:, -1]


def recurrent_layer(cell: str, input_size: int, hidden_size: int, bidirectional: bool,
                    proj_size: int = 0) -> nn.Module:
    """One (bi)directional recurrent layer taking padded (N, T, C) + lengths (or a PackedSequence), batch first:
    the fused nn.LSTM / nn.GRU run padded (asr.model.fused) or a written-out cell of asr.model.cells.
    proj_size: LSTMP recurrent projection."""
    if cell == "lstm":
        return PaddedLSTM(input_size, hidden_size, batch_first=True, bidirectional=bidirectional, proj_size=proj_size)
    if cell == "gru" and not proj_size:
        return PaddedGRU(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
    if cell == "gru":
        raise ConfigError("a recurrent projection (recurrent_proj_size) needs an LSTM kind of cell, not gru")
    from asr.model.cells import make_layer

    return make_layer(cell, input_size, hidden_size, bidirectional, proj_size)


class Dropout(nn.Dropout):
    """Inverted dropout (each value zeroed with probability p, the others scaled so that the expectation is
    unchanged) whose masks cost a quarter of nn.Dropout's: torch's CPU generator (a serial Mersenne Twister,
    ~3 ns a value) draws one seed per call, and NumPy's PCG64 expands it into 16-bit uniforms, four per 64-bit
    draw; a value is kept when its draw is below round((1 - p) * 2^16), so p is honoured to 2^-17 and the scale is
    the exact inverse of the keep probability. A torch seed gives the same masks every time (and a resumed run
    the same ones, its generator state being restored). On a GPU: `torch.rand` uniforms. A no-op in eval mode,
    as nn.Dropout."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p >= 1:
            return x * 0
        if x.device.type != "cpu":  # a GPU draws its own uniforms in parallel, faster than a copy of CPU draws
            keep = 1.0 - self.p
            return x * torch.rand_like(x).lt_(keep).mul_(1.0 / keep)
        threshold = max(1, round((1.0 - self.p) * 65536))
        seed = int(torch.randint(1 << 62, (1,)))
        words = np.random.PCG64(seed).random_raw((x.numel() + 3) // 4)  # = Generator.integers(0, 2^64), uint64
        draws = torch.from_numpy(words).view(torch.int16)[:x.numel()].view(x.shape)  # uniform in [-2^15, 2^15)
        keep = (draws < threshold - 32768).to(x.device, x.dtype).mul_(65536 / threshold)
        return x * keep


class Lookahead(nn.Module):
    """A lookahead layer (row convolution, DeepSpeech 2): y(t) = sum_{j=0..k} w_j * x(t + j), each dimension
    its own weights, x zero past the end; it starts as the identity (w_0 = 1, the others 0)."""

    def __init__(self, dim: int, k: int):
        super().__init__()
        self.k = k
        weight = torch.zeros(dim, k + 1)
        weight[:, 0] = 1.0
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor, pad: bool = True) -> torch.Tensor:
        """(N, T, D) -> (N, T, D) (zeros past the end); pad False: (N, T - k, D), the frames with all k."""
        if pad:
            x = F.pad(x, (0, 0, 0, self.k))
        out = x[:, :x.shape[1] - self.k] * self.weight[:, 0]
        for j in range(1, self.k + 1):
            out = out + x[:, j:x.shape[1] - self.k + j] * self.weight[:, j]
        return out


class Encoder(nn.Module):
    """Stacked recurrent layers; each: RNN -> [Linear projection + tanh] -> dropout."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dirs = 2 if cfg.bidirectional else 1
        self.rnns = nn.ModuleList()
        self.projs = nn.ModuleList()
        self.chunk_size = cfg.chunk_size if cfg.bidirectional else 0
        self.right_context = cfg.right_context
        in_dim = cfg.input_dim * cfg.stack_frames
        for _ in range(cfg.num_layers):
            if self.chunk_size:
                from asr.model.lc import LCLayer

                self.rnns.append(LCLayer(cfg.cell, in_dim, cfg.hidden_size, cfg.recurrent_proj_size))
            else:
                self.rnns.append(recurrent_layer(cfg.cell, in_dim, cfg.hidden_size, cfg.bidirectional,
                                                 cfg.recurrent_proj_size))
            out = (cfg.recurrent_proj_size or cfg.hidden_size) * dirs
            if cfg.proj_size:
                self.projs.append(nn.Linear(out, cfg.proj_size))
                out = cfg.proj_size
            else:
                self.projs.append(nn.Identity())
            in_dim = out
        self.output_dim = in_dim
        self.dropout = Dropout(cfg.dropout)
        self.use_proj = bool(cfg.proj_size)
        self.lookahead = Lookahead(in_dim, cfg.right_context) if not cfg.bidirectional and cfg.right_context else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, keep: int = 0):
        """(N, T, C) -> (N, T, H), zero at padding; with `keep` = k > 0 also layer k's output (1-based; its
        padding not zeroed), as a pair: InterCTC's intermediate layer."""
        if self.chunk_size:
            from asr.model.lc import lc_encoder_forward

            if keep:
                raise ValueError("a latency-controlled encoder has no intermediate-layer output")
            return lc_encoder_forward(self, x, lengths)
        total = x.shape[1]
        mask = kept = None
        for layer, (rnn, proj) in enumerate(zip(self.rnns, self.projs), 1):
            if isinstance(rnn, PaddedRNN):  # padding left as it comes, zeroed once below
                x, _ = rnn(x, lengths, zero_padding=False)
                if mask is None:
                    mask = torch.arange(total)[None, :] < lengths.cpu()[:, None]
            elif getattr(rnn, "takes_padded", False):  # every layer recurrent_layer makes: no packing needed
                x, _ = rnn(x, lengths)
            else:
                packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
                out, _ = rnn(packed)
                x, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
            if self.use_proj:
                x = torch.tanh(proj(x))
            x = self.dropout(x)
            if layer == keep:
                kept = x
        if mask is None and self.lookahead is not None:
            mask = torch.arange(total)[None, :] < lengths.cpu()[:, None]
        if mask is not None and not bool(mask.all()):
            x = x * mask.to(x.device, x.dtype).unsqueeze(-1)
        if self.lookahead is not None:
            x = self.lookahead(x)
        return (x, kept) if keep else x

    def post(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        """What follows recurrent layer `layer`: [projection + tanh], dropout."""
        if self.use_proj:
            x = torch.tanh(self.projs[layer](x))
        return self.dropout(x)


class CTCModel(nn.Module):
    """Raw features (N, T, D), lengths (N,) -> log-probs (N, T', V), output lengths (N,). Blank is id 0.

    Global CMVN is part of the model (buffers set from the training set's stats by `set_cmvn`), so a model
    needs nothing but raw features.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.vocab_size <= 1:
            raise ConfigError("model vocab_size must be set (number of tokens incl. <blank>)")
        self.config = cfg
        self.cmvn = CMVN.identity(cfg.input_dim)
        self.encoder = Encoder(cfg)
        self.output = nn.Linear(self.encoder.output_dim, cfg.vocab_size)

    def set_cmvn(self, stats, norm_vars: bool = True) -> None:
        """Use global CMVN from Kaldi stats (2, D+1)."""
        self.cmvn = CMVN(stats, norm_vars).to(self.output.weight.device)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, inter_layer: int = 0):
        """(log-probs, output lengths); with `inter_layer` = k > 0 also the log-probs of encoder layer k through
        the same output layer (InterCTC, Lee & Watanabe 2021), as a third item."""
        x, lengths = self.frontend(feats, lengths)
        if inter_layer:
            x, inter = self.encoder(x, lengths, keep=inter_layer)
            return F.log_softmax(self.output(x), dim=-1), lengths, F.log_softmax(self.output(inter), dim=-1)
        x = self.encoder(x, lengths)
        return F.log_softmax(self.output(x), dim=-1), lengths

    def frontend(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw features (normalised by their speaker's stats for SPEAKER_CMN) -> the encoder's input: CMVN (or
        per-utterance CMN), frames stacked and subsampled."""
        if self.config.cmn == "utterance":
            feats = utterance_cmn(feats, lengths) * self.cmvn.scale
        elif self.config.cmn == "utterance_mv":
            feats = utterance_cmvn(feats, lengths)
        elif self.config.cmn == "running":
            feats = running_cmn(feats, -self.cmvn.shift, self.config.cmn_time_constant)[0] * self.cmvn.scale
        else:
            feats = self.cmvn(feats)
        return stack_frames(feats, lengths, self.config.stack_frames, self.config.subsample)

    def ctc_loss(self, log_probs, out_lengths, targets, target_lengths, variants=None) -> torch.Tensor:
        """Mean over utterances of the summed CTC loss (targets concatenated, (sum(target_lengths),)); with
        `variants` (asr.data.dataset.Variants) an utterance's loss is -log of the sum of its sequences'
        probabilities (every pronunciation, as a CTC graph composed with a lexicon sums over them)."""
        if variants is None:
            loss = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0,
                              reduction="sum", zero_infinity=True)
            return loss / log_probs.shape[0]
        return ctc_loss_over_variants(log_probs, out_lengths, targets, target_lengths, variants).mean()

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def ctc_min_frames(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """(N,) the fewest frames CTC can emit each concatenated target sequence in: its length plus one blank
    between each pair of equal neighbours."""
    seq = torch.repeat_interleave(torch.arange(len(target_lengths), device=targets.device), target_lengths)
    repeat = torch.zeros_like(targets, dtype=torch.bool)
    repeat[1:] = (targets[1:] == targets[:-1]) & (seq[1:] == seq[:-1])
    return target_lengths + torch.zeros(len(target_lengths), dtype=torch.long, device=targets.device).index_add(
        0, seq, repeat.long())


def ctc_loss_over_variants(log_probs, out_lengths, targets, target_lengths, variants) -> torch.Tensor:
    """(N,) each utterance's -log sum over its target sequences (`targets` and its `variants`) of their CTC
    probabilities; a sequence too long for the utterance's frames counts for nothing, and an utterance none of
    whose sequences fits has loss 0 (as `zero_infinity`)."""
    n = log_probs.shape[0]
    rows = torch.cat([torch.arange(n, device=log_probs.device), variants.rows])
    all_targets = torch.cat([targets, variants.targets])
    all_lengths = torch.cat([target_lengths, variants.target_lengths])
    frames = out_lengths.to(rows.device)[rows]
    losses = F.ctc_loss(log_probs.index_select(0, rows).transpose(0, 1), all_targets, frames, all_lengths,
                        blank=0, reduction="none", zero_infinity=True)
    fits = frames >= ctc_min_frames(all_targets, all_lengths)
    score = torch.where(fits, -losses, torch.full_like(losses, -math.inf))
    top = torch.full((n,), -math.inf, device=score.device).scatter_reduce(0, rows, score.detach(), "amax")
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    total = torch.zeros(n, device=score.device).index_add(0, rows, torch.exp(score - top[rows]))
    fitted = total > 0
    return torch.where(fitted, -(torch.log(total.clamp_min(1e-30)) + top), torch.zeros_like(total))

