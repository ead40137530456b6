"""int8 for the PyTorch backend (asr.model.quantize): the fused and written-out kinds quantise and stay close."""

from __future__ import annotations

import pytest
import torch

from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig
from asr.model.quantize import quantize_model


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_quantized_model_is_close_to_float(cell):
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(input_dim=5, vocab_size=7, cell=cell, num_layers=2, hidden_size=16,
                                 dropout=0.0)).eval()
    q = quantize_model(model)
    x, lengths = torch.randn(3, 20, 5), torch.tensor([20, 7, 13])
    with torch.no_grad():
        a, a_len = model(x, lengths)
        b, b_len = q(x, lengths)
    assert torch.equal(a_len, b_len)
    assert 0 < float((a - b).abs().max()) < 0.05
    assert any("quantized" in type(m).__module__ for m in q.modules())


def test_unknown_quantisation_is_an_error():
    model = CTCModel(ModelConfig(input_dim=5, vocab_size=7, num_layers=1, hidden_size=4))
    with pytest.raises(ConfigError, match="int4"):
        quantize_model(model, "int4")
