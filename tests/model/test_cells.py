"""The written-out recurrent cells (asr.model.cells) against nn.LSTM / nn.GRU, their variants' defining
properties, padding, the model wiring, and the gate plots (asr.model.inspect, `asr inspect gates`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from asr.errors import ConfigError
from asr.model import cells
from asr.model.cells import make_layer, written_out_twin
from asr.model.model import CTCModel, ModelConfig, recurrent_layer
from helpers import REPO

I, H, P = 6, 5, 3
LENGTHS = torch.tensor([9, 4, 1, 7])  # unsorted, with a length-1 sequence


def fused_run(layer, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    return pad_packed_sequence(layer(packed)[0], batch_first=True, total_length=x.shape[1])[0]


def compare_with_fused(fused, cell, proj=0, bidirectional=True):
    """Copy the fused layer's weights into the written-out one; outputs and all gradients must agree."""
    torch.manual_seed(1)
    ours = make_layer(cell, I, H, bidirectional, proj)
    ours.load_state_dict(fused.state_dict())
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()) + 2, I)  # two padding frames past the longest
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = fused_run(fused, xa, LENGTHS), ours(xb, LENGTHS)[0]
    assert ya.shape == yb.shape
    torch.testing.assert_close(yb, ya, atol=1e-5, rtol=0)
    w = torch.randn_like(ya)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-5, rtol=0)
    theirs = dict(fused.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs[name].grad, atol=1e-5, rtol=0, msg=name)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in fused.parameters())


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("proj", [0, P])
def test_lstm_ref_equals_nn_lstm(proj, bidirectional):
    fused = nn.LSTM(I, H, batch_first=True, bidirectional=bidirectional, proj_size=proj)
    compare_with_fused(fused, "lstm-ref", proj, bidirectional)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_gru_ref_equals_nn_gru(bidirectional):
    compare_with_fused(nn.GRU(I, H, batch_first=True, bidirectional=bidirectional), "gru-ref", 0, bidirectional)


@pytest.mark.parametrize("proj", [0, P])
def test_peephole_with_zero_peepholes_equals_lstm(proj):
    torch.manual_seed(2)
    plain, peep = make_layer("lstm-ref", I, H, True, proj), make_layer("peephole", I, H, True, proj)
    assert not peep.load_state_dict(plain.state_dict(), strict=False).unexpected_keys
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), I)
    ya = plain(x, LENGTHS)[0]
    assert (peep(x, LENGTHS)[0] - ya).abs().max() > 1e-3  # with its random peepholes: a different function
    with torch.no_grad():
        for name, p in peep.named_parameters():
            if name.startswith(("weight_ci", "weight_cf", "weight_co")):
                p.zero_()
    yb = peep(x, LENGTHS)[0]
    torch.testing.assert_close(yb, ya, atol=1e-6, rtol=0)
    w = torch.randn_like(ya)
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    mine = dict(peep.named_parameters())
    for name, p in plain.named_parameters():
        torch.testing.assert_close(mine[name].grad, p.grad, atol=1e-5, rtol=0, msg=name)


def test_cifg_input_gate_is_one_minus_forget():
    torch.manual_seed(3)
    layer = make_layer("cifg", I, H, True)
    assert layer.weight_ih_l0.shape == (3 * H, I)  # no input-gate weights
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), I) * 3
    gates = layer.trace(x, LENGTHS)
    assert gates["f"].std() > 0.1
    assert torch.equal(gates["i"], (1.0 - gates["f"]) * (gates["f"] != 0))  # exactly (zero at padding)
    # and the cell state follows c = f c' + (1 - f) g, checked on the forward direction
    f, g, c = gates["f"][:, :, 0], gates["g"][:, :, 0], gates["c"][:, :, 0]
    c_prev = torch.cat([torch.zeros_like(c[:, :1]), c[:, :-1]], 1)
    valid = (torch.arange(x.shape[1]) < LENGTHS[:, None])[:, :, None]
    torch.testing.assert_close((f * c_prev + (1 - f) * g) * valid, c)


@pytest.mark.parametrize("peephole,coupled,proj", [(False, False, False), (True, False, False),
                                                   (False, True, False), (True, False, True), (False, True, True)])
def test_lstm_backward_is_the_gradient(peephole, coupled, proj):
    """The written-out backward pass against finite differences (double precision)."""
    torch.manual_seed(4)
    d, g, h, p = 2, 3 if coupled else 4, 3, 2
    opts = dict(dtype=torch.double, requires_grad=True)
    xw = torch.randn(d, 5, 2, g * h, **opts)
    w_hh = torch.randn(d, g * h, p if proj else h, **opts)
    w_hr = torch.randn(d, p, h, **opts) if proj else torch.empty(0, dtype=torch.double)
    w_peep = torch.randn(d, 3, h, **opts) if peephole else torch.empty(0, dtype=torch.double)
    fn = lambda *a: cells._LSTMFunction.apply(*a, peephole, coupled)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (xw, w_hh, w_hr, w_peep), fast_mode=True)


def test_gru_backward_is_the_gradient():
    torch.manual_seed(5)
    opts = dict(dtype=torch.double, requires_grad=True)
    args = (torch.randn(2, 5, 2, 9, **opts), torch.randn(2, 9, 3, **opts), torch.randn(2, 3, **opts))
    assert torch.autograd.gradcheck(cells._GRUFunction.apply, args, fast_mode=True)


def test_python_fallback_equals_torchscript():
    """cells._compiled falls back to the plain Python functions; they must compute the same."""
    torch.manual_seed(6)
    xw, w_hh, w_peep = torch.randn(2, 6, 3, 4 * H), torch.randn(2, 4 * H, P), torch.randn(2, 3, H)
    w_hr = torch.randn(2, P, H)
    for a, b in zip(cells.lstm_forward(xw, w_hh, w_hr, w_peep, True, False),
                    cells._compiled("lstm_forward")(xw, w_hh, w_hr, w_peep, True, False)):
        torch.testing.assert_close(a, b)
    xw, w_hh, b_hn = torch.randn(2, 6, 3, 3 * H), torch.randn(2, 3 * H, H), torch.randn(2, H)
    for a, b in zip(cells.gru_forward(xw, w_hh, b_hn), cells._compiled("gru_forward")(xw, w_hh, b_hn)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("cell", ["lstm-ref", "peephole", "cifg", "gru-ref"])
def test_padding_does_not_change_valid_frames(cell):
    torch.manual_seed(7)
    layer = make_layer(cell, I, H, True)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()) + 3, I)
    garbage = x.clone()
    for n, length in enumerate(LENGTHS):
        garbage[n, length:] = 100 * torch.randn(x.shape[1] - length, I)
    y, y_garbage = layer(x, LENGTHS)[0], layer(garbage, LENGTHS)[0]
    assert y.shape == (len(LENGTHS), x.shape[1], 2 * H)
    torch.testing.assert_close(y_garbage, y, atol=0, rtol=0)
    for n, length in enumerate(LENGTHS):
        assert torch.all(y[n, length:] == 0)
        alone = layer(x[n:n + 1, :length], LENGTHS[n:n + 1])[0]  # each sequence on its own, unpadded
        torch.testing.assert_close(y[n:n + 1, :length], alone, atol=1e-6, rtol=0)
    x.requires_grad_()
    (layer(x, LENGTHS)[0] * torch.randn(y.shape)).sum().backward()
    for n, length in enumerate(LENGTHS):
        assert torch.all(x.grad[n, length:] == 0)


def test_packed_input_as_nn_lstm():
    torch.manual_seed(8)
    layer = make_layer("peephole", I, H, True, P)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), I)
    out, _ = layer(pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False))
    y, lengths = pad_packed_sequence(out, batch_first=True)
    assert torch.equal(lengths, LENGTHS)
    torch.testing.assert_close(y, layer(x, LENGTHS)[0])


def test_parameter_counts():
    def count(m):
        return sum(p.numel() for p in m.parameters())

    lstm = count(nn.LSTM(I, H, bidirectional=True))
    assert count(make_layer("lstm-ref", I, H, True)) == lstm
    assert count(make_layer("peephole", I, H, True)) == lstm + 2 * 3 * H
    assert count(make_layer("cifg", I, H, True)) == lstm * 3 // 4
    assert count(make_layer("gru-ref", I, H, True)) == count(nn.GRU(I, H, bidirectional=True))
    assert count(make_layer("cifg", I, H, False, P)) == 3 * H * (I + P + 2) + P * H


def test_trace_matches_forward():
    torch.manual_seed(9)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), I)
    for cell in ["lstm-ref", "peephole", "cifg", "gru-ref"]:
        layer = make_layer(cell, I, H, True)
        trace = layer.trace(x, LENGTHS)
        assert set(trace) == ({"r", "z", "n", "h"} if cell == "gru-ref" else {"i", "f", "g", "o", "c", "h"})
        torch.testing.assert_close(trace["h"].flatten(2), layer(x, LENGTHS)[0])


def test_twin_of_a_fused_layer():
    torch.manual_seed(10)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), I)
    for fused in [nn.LSTM(I, H, batch_first=True, bidirectional=True), nn.GRU(I, H, batch_first=True)]:
        twin = written_out_twin(fused)
        torch.testing.assert_close(twin.trace(x, LENGTHS)["h"].flatten(2), fused_run(fused, x, LENGTHS),
                                   atol=1e-5, rtol=0)


def small_config(**kw):
    opts = dict(input_dim=8, vocab_size=7, num_layers=2, hidden_size=H, dropout=0.0)
    opts.update(kw)
    return ModelConfig(**opts)


@pytest.mark.parametrize("kw", [{}, {"proj_size": 4}, {"recurrent_proj_size": P}, {"bidirectional": False}])
def test_model_with_written_out_cells(kw):
    """CTCModel with lstm-ref (padded path through the Encoder) == with lstm (packed path), same weights."""
    torch.manual_seed(11)
    fused, ours = CTCModel(small_config(cell="lstm", **kw)), CTCModel(small_config(cell="lstm-ref", **kw))
    ours.load_state_dict(fused.state_dict())
    feats, lengths = torch.randn(3, 20, 8), torch.tensor([20, 11, 5])
    (la, oa), (lb, ob) = fused(feats, lengths), ours(feats, lengths)
    assert torch.equal(oa, ob)
    for n, t in enumerate(oa):
        torch.testing.assert_close(lb[n, :t], la[n, :t], atol=1e-5, rtol=0)
    for cell in ["peephole", "cifg", "gru-ref", "gru"]:
        if cell.startswith("gru") and kw.get("recurrent_proj_size"):
            with pytest.raises(ConfigError, match="LSTM kind"):
                CTCModel(small_config(cell=cell, **kw))
            continue
        log_probs, out_lengths = CTCModel(small_config(cell=cell, **kw))(feats, lengths)
        assert log_probs.shape == la.shape and torch.equal(out_lengths, oa)


def test_unknown_cell():
    with pytest.raises(ConfigError, match="unknown cell type 'lstmx'"):
        recurrent_layer("lstmx", I, H, True)


# ---- gate plots -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["peephole", "lstm"])
def test_plot_gates(tmp_path, cell):
    from asr.model.inspect import gate_trace, plot_gates

    torch.manual_seed(12)
    model = CTCModel(small_config(cell=cell, num_layers=3))
    feats = torch.randn(50, 8)
    trace = gate_trace(model, feats, 1)
    assert trace["f"].shape == (17, 2, H)  # ceil(50 / 3) steps
    assert 0 < trace["f"].min() and trace["f"].max() < 1
    fig = plot_gates(model, feats, 1, tmp_path / "gates.png")
    assert (tmp_path / "gates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    panels = [a for a in fig.axes if a.get_title()]
    titles = [a.get_title() for a in panels]
    assert len(panels) == 5 and "spectrogram" in titles[0]
    for word, title in zip(["forget", "input", "output", "cell state"], titles[1:]):
        assert word in title
    for a in panels:
        assert a.get_xlabel() == "time (s)" and a.get_ylabel()
    with pytest.raises(ConfigError, match="layer 3 out of range"):
        plot_gates(model, feats, 3, tmp_path / "x.png")


def test_inspect_gates_cli(tmp_path):
    import soundfile
    from typer.testing import CliRunner

    from asr.cli import app
    from asr.features.kaldi import FeatureConfig
    from asr.model.store import save_weights, write_config
    from asr.text.tokenizer import CharTokenizer

    torch.manual_seed(13)
    features = FeatureConfig(num_mel_bins=23)
    cfg = small_config(cell="cifg", input_dim=features.dim, vocab_size=5)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    write_config(model_dir, {"features": features.to_dict(), "model": cfg.to_dict()})
    CharTokenizer.build(["ab"]).save(model_dir / "tokens.txt")
    save_weights(CTCModel(cfg), model_dir)
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32), 16000)
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", "gates", str(model_dir), str(wav), "--out", str(tmp_path / "g.png"),
                                 "--layer", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").stat().st_size > 1000
    result = runner.invoke(app, ["inspect", "gates", str(model_dir), str(wav), "--layer", "2"])
    assert result.exit_code == 1 and "out of range" in result.output


def test_bench_script(capsys):
    import importlib.util

    path = REPO / "scripts" / "bench_cells.py"
    spec = importlib.util.spec_from_file_location("bench_cells", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    threads = torch.get_num_threads()
    try:
        assert bench.main(["--input", "4", "--hidden", "3", "--batch", "2", "--frames", "6", "--repeats", "1",
                           "--cells", "cifg,gru-ref", "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(threads)
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"lstm", "cifg", "gru-ref"}
    assert rows["lstm"][-1] == "1.00x" and int(rows["cifg"][1]) == 3 * 3 * (4 + 3 + 2) * 2
