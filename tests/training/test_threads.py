"""`training.num_threads`: auto (the default) is the cores available to the process, shared among torchrun's
local processes; a number is taken as it is; anything else is a ConfigError naming the key."""

from __future__ import annotations

import pytest

import asr.training.run as run_module
from asr.config import load_config
from asr.errors import ConfigError
from asr.training.run import TrainConfig, training_threads


def test_auto_is_the_default_and_takes_the_available_cores(monkeypatch):
    monkeypatch.setattr(run_module, "available_cores", lambda: 6)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert TrainConfig.from_dict(None).num_threads == "auto"
    assert training_threads("auto") == training_threads(0) == 6
    assert training_threads(TrainConfig.from_dict({"num_threads": 2}).num_threads) == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun: each local process its share
    assert training_threads("auto") == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert training_threads("auto") == 3


@pytest.mark.parametrize("value", ["two", -1, 1.5, True])
def test_a_bad_thread_count_is_a_config_error_naming_the_line(tmp_path, value):
    conf = tmp_path / "train.yaml"
    conf.write_text(f"training:\n  epochs: 2\n  num_threads: {str(value).lower()}\n")
    with pytest.raises(ConfigError, match=r"train\.yaml:3.*training\.num_threads: expected auto"):
        TrainConfig.from_dict(load_config(conf)["training"])
