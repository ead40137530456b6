"""The learning-rate schedules: linear warm-up, then constant or cosine decay over the planned epochs."""

import pytest

from asr.errors import ConfigError
from asr.training.run import TrainConfig
from asr.training.trainer import learning_rate


def config(**kw) -> TrainConfig:
    return TrainConfig.from_dict({"lr": 2e-3, "warmup_steps": 100, "epochs": 10, **kw})


def test_constant_warms_up_then_holds():
    cfg = config()
    assert learning_rate(cfg, 1, 0.0) == pytest.approx(2e-5)
    assert learning_rate(cfg, 50, 0.01) == pytest.approx(1e-3)
    assert learning_rate(cfg, 100, 0.02) == pytest.approx(2e-3)
    assert learning_rate(cfg, 5000, 1.0) == pytest.approx(2e-3)


def test_cosine_decays_to_the_final_scale():
    cfg = config(lr_schedule="cosine", final_lr_scale=0.05, warmup_steps=0)
    assert learning_rate(cfg, 1, 0.0) == pytest.approx(2e-3)
    assert learning_rate(cfg, 500, 0.5) == pytest.approx(2e-3 * (0.05 + 0.95 * 0.5))
    assert learning_rate(cfg, 1000, 1.0) == pytest.approx(2e-3 * 0.05)
    assert learning_rate(cfg, 2000, 1.7) == pytest.approx(2e-3 * 0.05)  # extra epochs (a longer resume) hold the floor
    lrs = [learning_rate(cfg, 1 + k, k / 100) for k in range(101)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))


def test_cosine_warm_up_scales_the_decayed_lr():
    cfg = config(lr_schedule="cosine")
    progress = 0.1
    assert learning_rate(cfg, 40, progress) == pytest.approx(0.4 * learning_rate(cfg, 100, progress))
    assert 2e-5 < learning_rate(cfg, 100, progress) < 2e-3


def test_unknown_schedule_names_the_choices():
    with pytest.raises(ConfigError, match="cosine"):
        config(lr_schedule="linear")
