"""SpecAugment masks, per-epoch checkpoints kept for averaging, and checkpoint averaging."""

import json

import pytest
import torch

from asr.errors import ConfigError
from asr.training.augment import AugmentConfig, SpecAugment
from asr.training.average import average_exp_dir, average_state_dicts
from asr.training.checkpoints import INDEX, keep_epoch_checkpoint, read_index, select_epochs


def masked(x, y):
    return (x != y)


def test_masks_within_bounds_and_lengths():
    torch.manual_seed(0)
    cfg = AugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width=20, time_max_ratio=0.2)
    center = torch.full((40,), 3.0)
    aug = SpecAugment(cfg, center)
    x = torch.randn(4, 200, 40) + 3.0
    lengths = torch.tensor([200, 120, 50, 7])
    for _ in range(20):
        y = aug(x, lengths)
        diff = masked(x, y)
        assert torch.all(y[diff] == 3.0)  # a masked cell becomes the mean (0 after CMVN)
        for i, n in enumerate(lengths.tolist()):
            assert not diff[i, n:].any()  # padding untouched
            d = diff[i, :n]
            full_rows = d.all(dim=1)  # time-masked frames
            assert full_rows.sum() <= 2 * min(20, int(0.2 * n))
            cols = d[~full_rows].any(dim=0) if (~full_rows).any() else torch.zeros(40, dtype=torch.bool)
            assert cols.sum() <= 2 * 10  # frequency-masked bins
    assert masked(x, aug(x, lengths)).any()


def test_off_in_eval_and_when_disabled():
    x, lengths = torch.randn(2, 50, 8), torch.tensor([50, 30])
    aug = SpecAugment(AugmentConfig(freq_masks=2, freq_width=4, time_masks=2, time_width=5))
    aug.eval()
    assert aug(x, lengths) is x
    assert SpecAugment(AugmentConfig())(x, lengths) is x
    with pytest.raises(ConfigError, match="unknown augment"):
        AugmentConfig.from_dict({"freq_mask": 2})


def state(value, step=0):
    return {"w": torch.full((2, 3), float(value)), "b": torch.tensor([value], dtype=torch.float16),
            "n": torch.tensor(step)}


def test_average_of_two_state_dicts():
    avg = average_state_dicts([state(1.0, 5), state(4.0, 7)])
    assert torch.equal(avg["w"], torch.full((2, 3), 2.5))
    assert avg["b"].dtype == torch.float16 and avg["b"].item() == 2.5
    assert avg["n"].item() == 7  # integer buffers: the last checkpoint's
    with pytest.raises(ConfigError, match="keys and shapes"):
        average_state_dicts([state(1.0), {"w": torch.zeros(3, 2), "b": torch.zeros(1), "n": torch.tensor(0)}])


def test_keep_last_and_best_then_average(tmp_path):
    exp = tmp_path / "exp"
    ckpt = exp / "checkpoints"
    losses = [5.0, 3.0, 1.0, 4.0, 6.0, 7.0]  # best: epochs 3, 2; last: 5, 6
    for epoch, loss in enumerate(losses, 1):
        keep_epoch_checkpoint(ckpt, {"epoch": epoch, "model": state(epoch), "dev": {"loss": loss}}, 2)
    index = read_index(ckpt)
    assert sorted(index) == [2, 3, 5, 6]
    assert sorted(p.name for p in ckpt.glob("epoch*.pt")) == ["epoch2.pt", "epoch3.pt", "epoch5.pt", "epoch6.pt"]
    assert json.loads((ckpt / INDEX).read_text())["3"]["loss"] == 1.0
    assert select_epochs(index, 2, "best") == [2, 3] and select_epochs(index, 2, "last") == [5, 6]
    (exp / "config.yaml").write_text("model: {}\n")
    (exp / "tokens.txt").write_text("<blank> 0\n")
    out, epochs = average_exp_dir(exp, exp / "ave", 2, "best")
    assert epochs == [2, 3]
    avg = torch.load(out / "model.pt", weights_only=True)
    assert torch.equal(avg["w"], torch.full((2, 3), 2.5))
    assert (out / "config.yaml").exists() and (out / "tokens.txt").exists()
    with pytest.raises(ConfigError, match="no epoch checkpoints"):
        average_exp_dir(tmp_path / "none", tmp_path / "ave", 2)
