"""The model directory: everything needed to recognise speech, nothing else.

    config.yaml   features: (Kaldi options), model: (ModelConfig), training: (as trained)
    tokens.txt    the output units (+ bpe.model or lexicon.txt for BPE or phone units: asr.text)
    model.pt      the network's state dict (global CMVN included as buffers)

A training run's exp dir is itself a model dir; `exp/model` links to the final one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from asr.errors import ConfigError
from asr.features.kaldi import FeatureConfig
from asr.fileio import atomic_torch_save, atomic_write_text
from asr.model.model import CTCModel, ModelConfig
from asr.text.tokenizer import Tokenizer, load_tokenizer

CONFIG, TOKENS, WEIGHTS = "config.yaml", "tokens.txt", "model.pt"


@dataclass
class LoadedModel:
    model: CTCModel
    tokenizer: Tokenizer
    features: FeatureConfig
    config: dict


def write_config(model_dir: str | os.PathLike, config: dict) -> None:
    atomic_write_text(Path(model_dir) / CONFIG, yaml.safe_dump(config, sort_keys=False))


def save_weights(model: CTCModel, model_dir: str | os.PathLike) -> None:
    atomic_torch_save(model.state_dict(), Path(model_dir) / WEIGHTS)


def load_model_dir(model_dir: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model dir (or an exp dir) for inference; the model is in eval mode."""
    d = Path(model_dir)
    for name in (CONFIG, TOKENS, WEIGHTS):
        if not (d / name).exists():
            raise ConfigError(f"{d}: not a model directory (no {name})")
    config = yaml.safe_load((d / CONFIG).read_text())
    try:
        features = FeatureConfig.from_dict(config["features"])
        model_cfg = ModelConfig.from_dict(config["model"])
    except (KeyError, TypeError) as e:
        raise ConfigError(f"{d / CONFIG}: missing section {e}") from None
    tokenizer = load_tokenizer(d / TOKENS)
    model = CTCModel(model_cfg)
    state = torch.load(d / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedModel(model, tokenizer, features, config)
