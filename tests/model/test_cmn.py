"""Per-utterance CMN in the model: outputs do not change with a gain (a constant offset of log-mel features)."""

import pytest
import torch

from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig, utterance_cmn


def test_utterance_mean_over_valid_frames_only():
    x = torch.arange(12.0).reshape(1, 6, 2).repeat(2, 1, 1)
    y = utterance_cmn(x, torch.tensor([6, 3]))
    assert torch.allclose(y[0].mean(0), torch.zeros(2))
    assert torch.allclose(y[1, :3].mean(0), torch.zeros(2))


@pytest.mark.parametrize("cmn,invariant", [("utterance", True), ("global", False)])
def test_gain_invariance(cmn, invariant):
    torch.manual_seed(0)
    model = CTCModel(ModelConfig(input_dim=6, vocab_size=5, num_layers=1, hidden_size=8, cmn=cmn)).eval()
    x, lengths = torch.randn(2, 12, 6), torch.tensor([12, 7])
    with torch.no_grad():
        a, out_len = model(x, lengths)
        b, _ = model(x + 2.5, lengths)
    same = all(torch.allclose(a[i, :n], b[i, :n], atol=1e-5) for i, n in enumerate(out_len.tolist()))
    assert same == invariant


def test_bad_cmn():
    with pytest.raises(ConfigError, match="cmn"):
        ModelConfig.from_dict({"cmn": "speaker"})
