"""Per-utterance CMN in the model: outputs do not change with a gain (a constant offset of log-mel features);
utterance_mv (mean and variance): nor with a scale."""

import pytest
import torch

from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig, utterance_cmn, utterance_cmvn


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
        ModelConfig.from_dict({"cmn": "bogus"})


def test_utterance_mv_zero_mean_unit_variance_over_valid_frames_and_gain_and_scale_invariant():
    torch.manual_seed(0)
    x, lengths = torch.randn(2, 12, 6) * 3 + 1, torch.tensor([12, 7])
    y = utterance_cmvn(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(y[i, :n].mean(0), torch.zeros(6), atol=1e-5)
        assert torch.allclose(y[i, :n].pow(2).mean(0), torch.ones(6), atol=1e-4)
    assert torch.allclose(utterance_cmvn(x * 2 + 4, lengths)[1, :7], y[1, :7], atol=1e-4)
    flat = utterance_cmvn(torch.ones(1, 5, 3), torch.tensor([5]))  # a constant bin stays 0, not NaN
    assert torch.equal(flat, torch.zeros(1, 5, 3))
    model = CTCModel(ModelConfig(input_dim=6, vocab_size=5, num_layers=1, hidden_size=8, cmn="utterance_mv")).eval()
    with torch.no_grad():
        a, out_len = model(x, lengths)
        b, _ = model(x * 1.5 + 2.5, lengths)
    assert all(torch.allclose(a[i, :n], b[i, :n], atol=1e-4) for i, n in enumerate(out_len.tolist()))
