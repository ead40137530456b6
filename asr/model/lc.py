"""The latency-controlled BLSTM (Chen & Huo 2016; Xue et al. 2017), trained chunk-wise, batched.

The encoder's input (after frame stacking) is cut into chunks of Nc frames (`chunk_size`); chunk c is a *block*
of its Nc frames and the next Nr frames (`right_context`). Through every layer:
    forward direction: over the chunks' frames in order, its state carried from chunk to chunk, then on from the
                       end of chunk c over block c's Nr right-context frames (that state is not carried on);
    backward direction: over each block (Nc + Nr frames, fewer at the end) from a zero state, read backwards.
A layer's right-context outputs feed the next layer's right context, so an output depends on at most Nr frames
after its chunk, whatever the depth: the algorithmic latency is (Nc + Nr) encoder frames. Streaming
(asr.model.stream) computes block by block exactly what training computes for all blocks at once: the
backward direction of all blocks of a batch is one call on a batch reshaped to (N * K, Nc + Nr) blocks, the
forward right contexts one call on (N * K, Nr) from the carried states; only the forward direction's main
pass walks the K chunks in turn.

Every cell of asr.model works: each direction is a unidirectional layer run from a given state
(`run_layer`: nn.LSTM / nn.GRU with their initial state, or the written-out cells' `run`).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn

from asr.model.cells import RecurrentLayer, reverse_index


def run_layer(layer: nn.Module, x: torch.Tensor, state=None):
    """A unidirectional recurrent layer over (N, T, C), every frame valid, from `state` (None: zeros) ->
    (out (N, T, P), state after the last frame). States: (h, c) for LSTM kinds, h for GRU, each (N, .)."""
    if isinstance(layer, RecurrentLayer):
        return layer.run(x, state)
    if isinstance(layer, nn.LSTM):
        hx = None if state is None else (state[0][None].contiguous(), state[1][None].contiguous())
        with warnings.catch_warnings():  # "LSTM with projections is not supported with oneDNN": known
            warnings.simplefilter("ignore", UserWarning)
            out, (h, c) = nn.LSTM.forward(layer, x, hx)
        return out, (h[0], c[0])
    out, h = nn.GRU.forward(layer, x, None if state is None else state[None].contiguous())
    return out, h[0]


def map_state(fn, state):
    """Apply `fn` to each tensor of a state (a tensor or a tuple of them)."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def stack_states(states: list):
    """K states of (N, .) -> one of (N * K, .), block-major within each sequence."""
    if isinstance(states[0], tuple):
        return tuple(stack_states([s[i] for s in states]) for i in range(len(states[0])))
    return torch.stack(states, 1).flatten(0, 1)


def reverse_blocks(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, C) with each block reversed within its first `valid` (B,) frames (its own inverse)."""
    idx = reverse_index(valid, x.shape[1]).T  # (B, T)
    return x.gather(1, idx.unsqueeze(2).expand_as(x))


class LCLayer(nn.Module):
    """One latency-controlled bidirectional layer: two unidirectional layers `fwd` and `bwd` of kind `cell`."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, proj_size: int = 0):
        super().__init__()
        from asr.model.model import recurrent_layer

        self.fwd = recurrent_layer(cell, input_size, hidden_size, False, proj_size)
        self.bwd = recurrent_layer(cell, input_size, hidden_size, False, proj_size)

    def blocks(self, main: torch.Tensor, right: torch.Tensor, valid: torch.Tensor, state=None):
        """main (N, K * Nc, C): the chunks' frames; right (N, K, Nr, C): each block's right context; valid (N, K):
        each block's valid frames (1..Nc + Nr); state: the forward direction's before chunk 0 (None: zeros).
        -> main (N, K * Nc, 2P), right (N, K, Nr, 2P), the forward state after chunk K - 1."""
        n, k, nr, c = right.shape
        nc = main.shape[1] // k
        outs, states = [], []
        for j in range(k):
            y, state = run_layer(self.fwd, main[:, j * nc:(j + 1) * nc], state)
            outs.append(y)
            states.append(state)
        fwd_main = torch.cat(outs, 1)
        p = fwd_main.shape[2]
        if nr:
            fwd_right = run_layer(self.fwd, right.reshape(n * k, nr, c), stack_states(states))[0].view(n, k, nr, p)
        else:
            fwd_right = right.new_zeros(n, k, 0, p)
        block = torch.cat([main.view(n, k, nc, c), right], 2).view(n * k, nc + nr, c)
        flat = valid.reshape(-1)
        bwd = reverse_blocks(run_layer(self.bwd, reverse_blocks(block, flat))[0], flat).view(n, k, nc + nr, p)
        main_out = torch.cat([fwd_main, bwd[:, :, :nc].reshape(n, k * nc, p)], 2)
        right_out = torch.cat([fwd_right, bwd[:, :, nc:]], 3)
        return main_out, right_out, state


def split_blocks(x: torch.Tensor, lengths: torch.Tensor, nc: int, nr: int):
    """(N, T, C) + lengths -> main (N, K * Nc, C) zero-padded, right contexts (N, K, Nr, C), valid (N, K)."""
    n, t, c = x.shape
    k = max(1, (t + nc - 1) // nc)
    padded = nn.functional.pad(x, (0, 0, 0, k * nc + nr - t))
    main = padded[:, :k * nc]
    right = padded[:, nc:].unfold(1, nr, nc)[:, :k].transpose(2, 3) if nr else x.new_zeros(n, k, 0, c)
    starts = torch.arange(k, device=x.device) * nc
    valid = (lengths.to(x.device)[:, None] - starts[None, :]).clamp(1, nc + nr)
    return main, right, valid


def lc_encoder_forward(encoder, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The Encoder's forward pass with latency-controlled layers: (N, T, C) -> (N, T, H), zero at padding."""
    t = x.shape[1]
    main, right, valid = split_blocks(x, lengths, encoder.chunk_size, encoder.right_context)
    for i, layer in enumerate(encoder.rnns):
        main, right, _ = layer.blocks(main, right, valid)
        main, right = encoder.post(i, main), encoder.post(i, right)
    mask = torch.arange(t, device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return main[:, :t] * mask.unsqueeze(-1).to(main.dtype)
