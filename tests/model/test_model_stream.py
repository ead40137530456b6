"""Streaming encoders (asr.model.lc, asr.model.stream): the incremental computation equals the whole-utterance
forward pass of the same model, for every cell; chunk-wise training has gradients; streaming configs are checked."""

import random

import pytest
import torch

from asr.config import load_config
from asr.errors import ConfigError
from asr.model import cells
from asr.model.model import CTCModel, ModelConfig, running_cmn
from asr.model.stream import ModelStream

STREAMING = {"causal": dict(bidirectional=False), "lookahead": dict(bidirectional=False, right_context=2),
             "lc": dict(chunk_size=4, right_context=2), "lc-nr0": dict(chunk_size=3)}


def tiny(cell="lstm", **kw) -> CTCModel:
    cfg = dict(input_dim=5, vocab_size=7, cell=cell, num_layers=2, hidden_size=8, cmn="running",
               cmn_time_constant=10.0)
    cfg.update(kw)
    return CTCModel(ModelConfig.from_dict(cfg)).eval()


def streamed(model: CTCModel, feats: torch.Tensor, rng: random.Random) -> torch.Tensor:
    stream, outs, t = ModelStream(model), [], 0
    while t < feats.shape[0]:
        k = rng.randint(0, 9)
        outs.append(stream.accept(feats[t:t + k]))
        t += k
    return torch.cat(outs + [stream.finish()])


@pytest.mark.parametrize("cell", ["lstm", "gru", "lstm-ref", "peephole", "cifg", "gru-ref", "lstmp"])
@pytest.mark.parametrize("kind", list(STREAMING))
def test_streamed_equals_whole_utterance(cell, kind):
    torch.manual_seed(1)
    kw = dict(STREAMING[kind])
    if cell == "lstmp":
        cell, kw = "peephole", dict(kw, recurrent_proj_size=6, proj_size=10)
    model = tiny(cell, **kw)
    feats, lengths = torch.randn(3, 40, 5), torch.tensor([40, 29, 4])
    with torch.no_grad():
        log_probs, out_lengths = model(feats, lengths)
    rng = random.Random(2)
    for b in range(3):
        got = streamed(model, feats[b, :int(lengths[b])], rng)
        torch.testing.assert_close(got, log_probs[b, :int(out_lengths[b])], atol=1e-5, rtol=1e-5)


def test_chunkwise_training_has_gradients():
    model = tiny("peephole", chunk_size=4, right_context=2).train()
    log_probs, _ = model(torch.randn(2, 30, 5), torch.tensor([30, 17]))
    log_probs.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


def test_initial_state_gradients():
    """The written-out cells' backward passes with an initial state, against finite differences."""
    torch.manual_seed(4)
    opts = dict(dtype=torch.double, requires_grad=True)
    h = 3
    args = (torch.randn(1, 5, 2, 4 * h, **opts), torch.randn(1, 4 * h, h, **opts), torch.empty(0, dtype=torch.double),
            torch.randn(1, 3, h, **opts))
    fn = lambda *a: cells._LSTMFunction.apply(*a[:4], True, False, *a[4:])  # noqa: E731
    assert torch.autograd.gradcheck(fn, args + (torch.randn(1, 2, h, **opts), torch.randn(1, 2, h, **opts)),
                                    fast_mode=True)
    args = (torch.randn(1, 5, 2, 9, **opts), torch.randn(1, 9, 3, **opts), torch.randn(1, 3, **opts),
            torch.randn(1, 2, 3, **opts))
    assert torch.autograd.gradcheck(cells._GRUFunction.apply, args, fast_mode=True)


def test_running_cmn_is_causal_and_chunkable():
    x, mean = torch.randn(1, 50, 4) + 3.0, torch.zeros(4)
    whole, _ = running_cmn(x, mean, 20.0)
    a, m = running_cmn(x[:, :17], mean, 20.0)
    b, _ = running_cmn(x[:, 17:], m, 20.0)
    torch.testing.assert_close(torch.cat([a, b], 1), whole)
    later, _ = running_cmn(torch.cat([x, x + 9], 1), mean, 20.0)
    torch.testing.assert_close(later[:, :50], whole)  # the future changes nothing
    assert whole[0, -10:].mean().abs() < 1.0  # the mean has been followed


def test_streaming_refuses_utterance_cmn(tmp_path):
    conf = tmp_path / "train.yaml"
    conf.write_text("model:\n  bidirectional: false\n  cmn: utterance\n")
    with pytest.raises(ConfigError, match=r"train.yaml:3: model.cmn: .*cmn: global.*cmn: running"):
        ModelConfig.from_dict(load_config(conf)["model"])
    with pytest.raises(ConfigError, match="right_context"):
        ModelConfig.from_dict({"right_context": 2})


def test_offline_model_cannot_stream():
    with pytest.raises(ConfigError, match="streaming needs"):
        ModelStream(tiny(bidirectional=True, cmn="global"))


def test_state_stays_flat_on_a_long_stream():
    model = tiny("lstm", chunk_size=4, right_context=2)
    stream, sizes = ModelStream(model), []
    for _ in range(300):
        stream.accept(torch.randn(7, 5))
        sizes.append(stream.state_numel())
    assert max(sizes[100:]) <= max(sizes[:100])
