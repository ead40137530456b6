"""Look inside a trained encoder: the gate activations and cell state of one layer over one utterance.

    gate_trace(model, feats, layer)       -> {"f", "i", "o", "c", ...}: each (T', D, H)
    plot_gates(model, feats, layer, png)  -> spectrogram above the forget, input and output gates and |c(t)|

Works for every cell type: a fused nn.LSTM / nn.GRU layer is traced through its written-out twin
(asr.model.cells.written_out_twin), which has the same weights and the same outputs.
"""

from __future__ import annotations

import io
import os

import torch

from asr.errors import ConfigError
from asr.fileio import atomic_write
from asr.model.cells import written_out_twin
from asr.model.ensemble import check_single
from asr.model.model import CTCModel

# Panels per cell family: (trace key, title); the last panel is the norm of a state over time.
LSTM_PANELS = [("f", "forget gate f(t)"), ("i", "input gate i(t)"), ("o", "output gate o(t)")]
GRU_PANELS = [("z", "update gate z(t)"), ("r", "reset gate r(t)")]


@torch.no_grad()
def gate_trace(model: CTCModel, feats: torch.Tensor, layer: int) -> dict[str, torch.Tensor]:
    """Raw features (T, D) of one utterance -> encoder layer `layer`'s (0-based) per-step activations,
    each (T', D, H) with T' = ceil(T / subsample) and D the directions (forward first)."""
    check_single(model, "gate inspection")
    cfg = model.config
    if feats.dim() != 2 or feats.shape[1] != cfg.input_dim or feats.shape[0] == 0:
        raise ConfigError(f"features must be (frames, {cfg.input_dim}), at least one frame, got {tuple(feats.shape)}")
    if not 0 <= layer < cfg.num_layers:
        raise ConfigError(f"layer {layer} out of range: the model has {cfg.num_layers} layers "
                          f"(0..{cfg.num_layers - 1})")
    rnn = model.encoder.rnns[layer]
    seen = {}

    def keep_input(module, args):  # the layer's input, however the Encoder passes it (packed or padded)
        seen["args"] = args

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    handle = rnn.register_forward_pre_hook(keep_input)
    try:
        model(feats[None].to(device), torch.tensor([feats.shape[0]], device=device))
    finally:
        handle.remove()
        model.train(was_training)
    x = seen["args"][0]
    if isinstance(x, torch.nn.utils.rnn.PackedSequence):
        x, lengths = torch.nn.utils.rnn.pad_packed_sequence(x, batch_first=True)
    else:
        lengths = seen["args"][1]
    trace = written_out_twin(rnn).trace(x, lengths)
    return {k: v[0] for k, v in trace.items()}


def plot_gates(model: CTCModel, feats: torch.Tensor, layer: int, out_png: str | os.PathLike,
               frame_shift_s: float = 0.01, title: str | None = None):
    """Write a PNG: the utterance's features above the gate activations of encoder layer `layer` (rows:
    cells, forward direction above backward) and the norm of its cell state (GRU: hidden state) over time.
    Returns the matplotlib Figure."""
    from matplotlib.figure import Figure

    trace = gate_trace(model, feats, layer)
    lstm_like = "c" in trace
    panels = LSTM_PANELS if lstm_like else GRU_PANELS
    state, state_name = (trace["c"], "cell state c(t)") if lstm_like else (trace["h"], "hidden state h(t)")
    cfg = model.config
    frames = feats.shape[0]
    step_s = frame_shift_s * cfg.subsample  # one layer step covers `subsample` feature frames
    steps, dirs, hid = state.shape
    names = ["forward", "backward"][:dirs]

    fig = Figure(figsize=(11, 2.2 * (len(panels) + 2)), layout="constrained")
    grid = fig.add_gridspec(len(panels) + 2, 2, width_ratios=[60, 1])
    ax0 = fig.add_subplot(grid[0, 0])
    im = ax0.imshow(feats.detach().cpu().T.numpy(), origin="lower", aspect="auto", interpolation="nearest",
                    extent=(0, frames * frame_shift_s, 0, feats.shape[1]), cmap="magma")
    fig.colorbar(im, cax=fig.add_subplot(grid[0, 1]), label="value")
    ax0.set_title("input features (spectrogram)")
    ax0.set_ylabel("feature bin")
    axes = [ax0]
    for row, (key, name) in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row, 0], sharex=ax0)
        units = trace[key].permute(1, 2, 0).reshape(dirs * hid, steps).cpu().numpy()  # (D*H, T')
        im = ax.imshow(units, origin="lower", aspect="auto", interpolation="nearest", vmin=0.0, vmax=1.0,
                       extent=(0, steps * step_s, 0, dirs * hid), cmap="viridis")
        if dirs == 2:
            ax.axhline(hid, color="red", linewidth=0.8)
        fig.colorbar(im, cax=fig.add_subplot(grid[row, 1]), label="activation")
        ax.set_title(name)
        ax.set_ylabel("cell (fwd | bwd)" if dirs == 2 else "cell")
        axes.append(ax)
    ax = fig.add_subplot(grid[len(panels) + 1, 0], sharex=ax0)
    t = (torch.arange(steps) + 0.5) * step_s
    for d, name in enumerate(names):
        ax.plot(t.numpy(), state[:, d].norm(dim=-1).cpu().numpy(), label=name)
    ax.set_title(f"norm of the {state_name}")
    ax.set_ylabel("L2 norm")
    ax.set_xlabel("time (s)")
    ax.legend(loc="best")
    axes.append(ax)
    for a in axes[:-1]:
        a.set_xlabel("time (s)")
    fig.suptitle(title or f"{cfg.cell} encoder, layer {layer}")

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    with atomic_write(out_png, "wb", encoding=None) as f:
        f.write(buf.getvalue())
    return fig
