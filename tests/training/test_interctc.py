"""InterCTC (training.interctc_weight / interctc_layer, Lee & Watanabe 2021): layer k's log-probs are those of the
same model cut after layer k, the loss mixes the two CTC losses by the weight, the final output is unchanged, the
trained model is a plain CTC model, and a layer or weight the model cannot have is a config error."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml

from asr.data.dataset import Batch
from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig
from asr.text.tokenizer import CharTokenizer
from asr.training.run import TrainConfig, check_interctc
from asr.training.trainer import train, train_step
from helpers.training import CONFIG, make_data


def model(num_layers: int, **kw) -> CTCModel:
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=6, vocab_size=5, num_layers=num_layers, hidden_size=8, dropout=0.0, stack_frames=1,
                      subsample=1, **kw)
    return CTCModel(cfg).eval()


@pytest.mark.parametrize("proj_size", [0, 10])
def test_layer_k_log_probs_are_the_model_cut_after_layer_k(proj_size):
    full, cut = model(3, proj_size=proj_size), model(2, proj_size=proj_size)
    cut.load_state_dict({k: v for k, v in full.state_dict().items() if k in cut.state_dict()})
    feats, lengths = torch.randn(3, 17, 6), torch.tensor([17, 11, 5])
    final, out_lengths, inter = full(feats, lengths, 2)
    plain, _ = full(feats, lengths)
    expected, _ = cut(feats, lengths)
    assert torch.equal(final, plain) and not torch.allclose(inter, final, atol=1e-3)
    for i, n in enumerate(out_lengths.tolist()):
        torch.testing.assert_close(inter[i, :n], expected[i, :n])


def test_the_loss_mixes_the_two_ctc_losses_by_the_weight():
    net = model(2)
    b = Batch(feats=torch.randn(2, 20, 6), lengths=torch.tensor([20, 14]), targets=torch.tensor([1, 2, 3, 4, 2]),
              target_lengths=torch.tensor([3, 2]), utt_ids=["a", "b"])
    with torch.no_grad():
        final, out_lengths, inter = net(b.feats, b.lengths, 1)
        last = net.ctc_loss(final, out_lengths, b.targets, b.target_lengths).item()
        first = net.ctc_loss(inter, out_lengths, b.targets, b.target_lengths).item()
    assert abs(last - first) > 1e-3
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    mixed = train_step(net, opt, b, 5.0, interctc=(1, 0.3)).loss / 2
    assert mixed == pytest.approx(0.7 * last + 0.3 * first, rel=1e-5)
    assert train_step(net, opt, b, 5.0).loss / 2 == pytest.approx(last, rel=1e-5)
    assert train_step(net, opt, b, 5.0, interctc=(1, 0.0)).loss / 2 == pytest.approx(last, rel=1e-5)


def test_layer_and_weight_are_checked_against_the_model():
    cfg = TrainConfig(interctc_weight=0.3)
    check_interctc(cfg, ModelConfig(num_layers=4))
    assert cfg.interctc_layer == 2  # 0: the middle layer
    for train_cfg, model_cfg, match in [
        (TrainConfig(interctc_weight=1.0), ModelConfig(), "interctc_weight: must be in"),
        (TrainConfig(interctc_weight=0.3, interctc_layer=3), ModelConfig(num_layers=3), "1 to 2"),
        (TrainConfig(interctc_weight=0.3), ModelConfig(num_layers=1), "interctc_layer"),
        (TrainConfig(interctc_weight=0.3), ModelConfig(chunk_size=4, cmn="running"), "latency-controlled"),
    ]:
        with pytest.raises(ConfigError, match=match):
            check_interctc(train_cfg, model_cfg)
    check_interctc(TrainConfig(interctc_layer=7), ModelConfig(num_layers=2))  # weight 0: off, layer not used


def test_training_with_interctc_changes_the_model_and_saves_a_plain_one(tmp_path):
    tokens = tmp_path / "tokens.txt"
    CharTokenizer.build(["a b"]).save(tokens)
    data = make_data(tmp_path, "train", 12, 0), make_data(tmp_path, "dev", 4, 1)
    config = copy.deepcopy(CONFIG)
    config["model"]["num_layers"] = 2
    config["training"]["epochs"] = 2
    train(copy.deepcopy(config), *data, tokens, tmp_path / "plain", progress=False)
    config["training"]["interctc_weight"] = 0.5
    train(copy.deepcopy(config), *data, tokens, tmp_path / "inter", progress=False)
    saved = yaml.safe_load((tmp_path / "inter" / "config.yaml").read_text())
    assert saved["training"]["interctc_weight"] == 0.5 and saved["training"]["interctc_layer"] == 1
    plain = torch.load(tmp_path / "plain" / "model.pt", weights_only=False)
    inter = torch.load(tmp_path / "inter" / "model.pt", weights_only=False)
    plain, inter = (x.get("model", x) for x in (plain, inter))
    assert plain.keys() == inter.keys()  # no extra head: the output layer is shared
    assert not torch.equal(plain["output.weight"], inter["output.weight"])
