"""int8 for the PyTorch backend: dynamic quantisation (torch.ao.quantization.quantize_dynamic) of a CTCModel.

The weights of the fused LSTM/GRU layers and of every Linear layer are stored as int8 and the activations
quantised on the fly per batch. The fused layers become plain nn.LSTM / nn.GRU first (the quantised modules
take only those types); the Encoder then runs them on packed sequences, which they support. The written-out
cells (peephole, cifg, lstm-ref, gru-ref, and LSTMP) keep their float recurrence: only their output and
projection layers are quantised. Eval only: a quantised model does not train.
"""

from __future__ import annotations

import copy
import warnings

import torch
import torch.nn as nn

from asr.errors import ConfigError
from asr.model.fused import PaddedGRU, PaddedLSTM

QUANTIZE = ("int8",)


def plain_rnn(layer: nn.Module) -> nn.Module:
    """A fused PaddedLSTM / PaddedGRU as the nn.LSTM / nn.GRU with the same weights (others unchanged)."""
    if isinstance(layer, PaddedLSTM):
        plain = nn.LSTM(layer.input_size, layer.hidden_size, batch_first=True, bidirectional=layer.bidirectional,
                        proj_size=layer.proj_size)
    elif isinstance(layer, PaddedGRU):
        plain = nn.GRU(layer.input_size, layer.hidden_size, batch_first=True, bidirectional=layer.bidirectional)
    else:
        return layer
    plain.load_state_dict(layer.state_dict())
    return plain


def quantize_model(model: nn.Module, kind: str = "int8") -> nn.Module:
    """A dynamically quantised copy of CTCModel (or EnsembleCTC) `model` (CPU, eval mode)."""
    if kind not in QUANTIZE:
        raise ConfigError(f"quantisation must be one of {', '.join(QUANTIZE)}, not '{kind}'")
    model = copy.deepcopy(model).cpu().eval()
    for single in getattr(model, "members", None) or [model]:  # an ensemble's members (asr.model.ensemble)
        rnns = single.encoder.rnns
        for i, layer in enumerate(rnns):
            rnns[i] = plain_rnn(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao: still works
        return torch.ao.quantization.quantize_dynamic(model, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
