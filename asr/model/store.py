"""The model directory: everything needed to recognise speech, nothing else.

    config.yaml   features: (Kaldi options), model: (ModelConfig), units: (char, word, phone or bpe), training:
    tokens.txt    the output units (+ bpe.model, lexicon.txt or words.txt as `units:` needs: asr.text)
    model.pt      the network's state dict (global CMVN included as buffers)
    decoding.yaml optional: the decoder to use by default (decoder, beam_size, lm_weight, word_score, ...) and
    decoding/     the files it needs (lexicon.txt, lm.arpa, spell_lm.arpa), paths in decoding.yaml relative to it

A training run's exp dir is itself a model dir; `exp/model` links to the final one. A recipe records the decoder
it chose on dev with `asr model set-decoder` (asr.decoding.best); a `.asr` file carries the same (asr.export).
An ensemble of models (asr.model.ensemble) is a model dir too: config.yaml says so in its `ensemble:` section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from asr.errors import ConfigError
from asr.features.kaldi import FeatureConfig
from asr.fileio import atomic_torch_save, atomic_write, atomic_write_text
from asr.model.model import CTCModel, ModelConfig
from asr.text.tokenizer import Tokenizer, load_tokenizer, unit_kind

CONFIG, TOKENS, WEIGHTS = "config.yaml", "tokens.txt", "model.pt"
DECODING, DECODING_DIR = "decoding.yaml", "decoding"
DECODING_FILES = ("lexicon", "lm", "spell_lm")  # the keys of decoding.yaml that name files


@dataclass
class LoadedModel:
    model: CTCModel  # or an EnsembleCTC (asr.model.ensemble), which has its interface
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
    try:
        config = yaml.safe_load((d / CONFIG).read_text(encoding="utf-8-sig"))
    except yaml.YAMLError:
        raise ConfigError(f"{d / CONFIG}: not valid YAML") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{d / CONFIG}: expected a mapping (features:, model:, units:)")
    try:
        features = FeatureConfig.from_dict(config["features"])
        model_cfg = ModelConfig.from_dict(config["model"])
    except (KeyError, TypeError) as e:
        raise ConfigError(f"{d / CONFIG}: missing section {e}") from None
    tokenizer = load_tokenizer(d / TOKENS, units_of(config))
    if len(tokenizer) != model_cfg.vocab_size:
        raise ConfigError(f"{d / TOKENS}: {len(tokenizer)} units, but the model in {d / CONFIG} has "
                          f"vocab_size {model_cfg.vocab_size}")
    if config.get("ensemble"):
        from asr.model.ensemble import ensemble_from_config

        model = ensemble_from_config(config, d / CONFIG)
    else:
        model = CTCModel(model_cfg)
    state = torch.load(d / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    decoding = read_decoding(d)
    if decoding:
        config["decoding"] = decoding
    return LoadedModel(model, tokenizer, features, config)


def units_of(config: dict) -> str | None:
    """The unit kind a model's config records (`units:`, written by training); for a model from before that key,
    the kind of its training units' dir (`data: tokens:`) when that dir is still there, else None (guess from
    the model dir's files)."""
    if config.get("units"):
        return str(config["units"])
    tokens = (config.get("data") or {}).get("tokens") if isinstance(config.get("data"), dict) else None
    if tokens and Path(tokens).is_file():
        return unit_kind(Path(tokens).parent)
    return None


def read_decoding(model_dir: str | os.PathLike) -> dict:
    """The model dir's decoding.yaml ({} when absent), its file paths made absolute."""
    path = Path(model_dir) / DECODING
    if not path.is_file():
        return {}
    try:
        decoding = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        raise ConfigError(f"{path}: not valid YAML") from None
    if not isinstance(decoding, dict):
        raise ConfigError(f"{path}: expected a mapping (decoder: ..., lm_weight: ...)")
    for key in DECODING_FILES:
        if decoding.get(key):
            file = Path(model_dir).resolve() / decoding[key]
            if not file.is_file():
                raise ConfigError(f"{path}: {key}: no such file {file}")
            decoding[key] = str(file)
    return decoding


def decoding_member(key: str, src: Path) -> str:
    """Where a decoding file goes in a model dir (or `.asr` file): decoding/lexicon.txt, decoding/lm.arpa,
    decoding/spell_lm.arpa."""
    return f"{DECODING_DIR}/{'lexicon.txt' if key == 'lexicon' else key + (''.join(src.suffixes) or '.arpa')}"


def write_decoding(model_dir: str | os.PathLike, decoding: dict) -> None:
    """Record `decoding` (decoder settings) in the model dir, copying its lexicon and LMs into decoding/ so the
    model dir is self-contained."""
    import shutil

    d, decoding = Path(model_dir), dict(decoding)
    for key in DECODING_FILES:
        if decoding.get(key):
            src = Path(decoding[key])
            member = decoding_member(key, src)
            if src.resolve() != (d / member).resolve():
                (d / DECODING_DIR).mkdir(exist_ok=True)
                with open(src, "rb") as f_in, atomic_write(d / member, "wb") as f_out:
                    shutil.copyfileobj(f_in, f_out)
            decoding[key] = member
    atomic_write_text(d / DECODING, yaml.safe_dump(decoding, sort_keys=False))
