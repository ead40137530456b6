"""A streaming model run incrementally: raw feature frames in as they arrive, CTC log-probs out as soon as the
model's look-ahead allows, equal (within float rounding) to the whole-utterance forward pass of the same model
(tests/model/test_model_stream.py). Memory is bounded: a few frames of buffers and one state per layer.

    stream = ModelStream(model)            # a CTCModel whose config is streaming (asr.model.model)
    lp = stream.accept(feats)              # (T, D) raw features -> (T', V) log-probs of the frames now final
    lp = stream.finish()                   # the rest, at the end of the audio

Per frame: CMVN (global, or the running mean's state), frame stacking (the next `stack_frames` frames, the last
frame repeated at the end, as `stack_frames`), then the encoder: a causal LSTM layer by layer from each layer's
state (+ the lookahead layer's k frames), or a latency-controlled BLSTM chunk by chunk (asr.model.lc).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from asr.errors import ConfigError
from asr.model.lc import run_layer


class ModelStream:
    def __init__(self, model):
        cfg = model.config
        if not cfg.streaming:
            raise ConfigError("this model is bidirectional over whole utterances: streaming needs a model trained "
                              "with bidirectional: false or a chunk_size (docs/streaming.md)")
        self.model, self.cfg = model, cfg
        self.enc = model.encoder
        self.cmn_mean = None  # running CMN: the mean after the last frame
        self.raw: torch.Tensor | None = None  # normalised frames not yet stacked (the last one always kept)
        self.raw_start = 0  # index of raw[0]
        self.raw_total = 0
        self.next_out = 0  # next stacked frame
        self.states: list = [None] * len(self.enc.rnns)
        self.pending: torch.Tensor | None = None  # encoder inputs not yet run (LC: less than a block)
        self.ahead: torch.Tensor | None = None  # lookahead layer: its last k inputs

    @property
    def device(self) -> torch.device:
        return self.model.output.weight.device

    @torch.inference_mode()
    def accept(self, feats: torch.Tensor) -> torch.Tensor:
        """(T, D) raw features -> (T', V) log-probs of the output frames now complete (T' may be 0)."""
        return self._step(self._stack(self._normalise(feats), final=False), final=False)

    @torch.inference_mode()
    def finish(self) -> torch.Tensor:
        """The log-probs of the remaining output frames."""
        return self._step(self._stack(None, final=True), final=True)

    # ---- frontend -----------------------------------------------------------------------------------------

    def _normalise(self, feats: torch.Tensor) -> torch.Tensor:
        from asr.model.model import running_cmn

        x = torch.as_tensor(feats, dtype=torch.float32).to(self.device)[None]
        cmvn = self.model.cmvn
        if self.cfg.cmn == "running":
            mean = -cmvn.shift if self.cmn_mean is None else self.cmn_mean
            x, self.cmn_mean = running_cmn(x, mean, self.cfg.cmn_time_constant)
            return (x * cmvn.scale)[0]
        return cmvn(x)[0]

    def _stack(self, x: torch.Tensor | None, final: bool) -> torch.Tensor:
        """Normalised frames -> the stacked frames now complete (N' , D * stack)."""
        stack, sub = self.cfg.stack_frames, self.cfg.subsample
        if x is not None and x.shape[0]:
            self.raw = x if self.raw is None else torch.cat([self.raw, x])
            self.raw_total += x.shape[0]
        if self.raw is None:
            return torch.zeros(0, self.cfg.input_dim * stack, device=self.device)
        out = []
        while True:
            first = self.next_out * sub
            if first >= self.raw_total or (not final and first + stack > self.raw_total):
                break
            idx = torch.clamp(torch.arange(first, first + stack), max=self.raw_total - 1) - self.raw_start
            out.append(self.raw[idx].reshape(-1))
            self.next_out += 1
        drop = min(self.next_out * sub, self.raw_total - 1) - self.raw_start
        if drop > 0:
            self.raw, self.raw_start = self.raw[drop:], self.raw_start + drop
        if not out:
            return torch.zeros(0, self.cfg.input_dim * stack, device=self.device)
        return torch.stack(out)

    # ---- encoder --------------------------------------------------------------------------------------------

    def _step(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        h = self._lc(x, final) if self.enc.chunk_size else self._causal(x, final)
        return F.log_softmax(self.model.output(h), dim=-1)

    def _causal(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        enc = self.enc
        if x.shape[0]:
            x = x[None]
            for i, rnn in enumerate(enc.rnns):
                x, self.states[i] = run_layer(rnn, x, self.states[i])
                x = enc.post(i, x)
            x = x[0]
        else:
            x = x.new_zeros(0, enc.output_dim)
        if enc.lookahead is None:
            return x
        k = enc.lookahead.k
        buf = x if self.ahead is None else torch.cat([self.ahead, x])
        if final:
            buf = F.pad(buf, (0, 0, 0, k))
        out = enc.lookahead(buf[None], pad=False)[0] if buf.shape[0] > k else buf[:0]
        self.ahead = buf[buf.shape[0] - k:] if not final else None
        return out

    def _lc(self, x: torch.Tensor, final: bool) -> torch.Tensor:
        enc = self.enc
        nc, nr = enc.chunk_size, enc.right_context
        buf = x if self.pending is None else torch.cat([self.pending, x])
        outs = []
        while buf.shape[0] >= nc + nr or (final and buf.shape[0]):
            have = min(buf.shape[0], nc + nr)
            block = F.pad(buf[:nc + nr], (0, 0, 0, nc + nr - have))[None]
            main, right = block[:, :nc], block[:, nc:][:, None]
            valid = torch.tensor([[have]], device=buf.device)
            for i, layer in enumerate(enc.rnns):
                main, right, self.states[i] = layer.blocks(main, right, valid, self.states[i])
                main, right = enc.post(i, main), enc.post(i, right)
            outs.append(main[0, :min(have, nc)])
            buf = buf[nc:]
        self.pending = buf
        return torch.cat(outs) if outs else x.new_zeros(0, enc.output_dim)

    def state_numel(self) -> int:
        """Numbers held between calls (for checking that memory stays flat on a long stream)."""
        def size(s):
            if s is None:
                return 0
            if isinstance(s, tuple):
                return sum(size(t) for t in s)
            return s.numel()

        return sum(size(s) for s in [self.cmn_mean, self.raw, self.pending, self.ahead, *self.states])
