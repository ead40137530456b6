"""The decoder choice of `asr transcribe` (`--decoder greedy|beam|lm`).

Every decoder maps a stretch of (T, V) log-probs to `TokenSpan`s, so each gets word times and confidences:
greedy reads them off its best path; a decoder that returns token ids only (prefix beam search, lexicon + LM)
is timed by forced alignment of its result to the same log-probs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch

from asr.decoding.align import TokenSpan, forced_align, greedy_spans
from asr.errors import ConfigError

DECODERS = ("greedy", "beam", "lm")
Decoder = Callable[[torch.Tensor], list[TokenSpan]]


@dataclass
class DecoderOptions:
    beam_size: int = 10
    lexicon: str | None = None  # lm: pronunciation lexicon (default: the model's, if it has one)
    lm: str | None = None  # lm: ARPA language model (default: the model's, if it has one)
    lm_weight: float | None = None  # lm: None = the decoder's default
    word_bonus: float | None = None


def make_decoder(name: str, loaded, options: DecoderOptions | None = None) -> Decoder:
    """A decoder for model `loaded` (asr.model.store.LoadedModel)."""
    options = options or DecoderOptions()
    if name == "greedy":
        return greedy_spans
    if name not in DECODERS:
        raise ConfigError(f"unknown decoder '{name}' (choose from {', '.join(DECODERS)})")
    module = f"asr.decoding.{'beam' if name == 'beam' else 'lm'}"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        raise ConfigError(f"--decoder {name}: not available in this version ({module} is missing)") from None
    raise ConfigError(f"--decoder {name}: {module} exists but is not wired into transcribe yet")


def timed(decode_ids: Callable[[torch.Tensor], list[int]]) -> Decoder:
    """Wrap an ids-only decoder of (T, V) log-probs so it returns token spans (by forced alignment)."""

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        return forced_align(log_probs, decode_ids(log_probs))

    return decode
