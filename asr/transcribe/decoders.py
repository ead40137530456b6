"""The decoders of transcription: a DecoderConfig (asr.decoding.config) -> a function of a stretch of (T, V)
log-probs giving `TokenSpan`s, so that each decoder gets word times and confidences: greedy reads them off its
best path; prefix beam search (asr.decoding.beam) returns token ids and lexicon + LM search (asr.decoding.lm)
words, which are spelled in the model's units and timed by forced alignment to the same log-probs.

The lm decoder's vocabulary, LM and weights come from the config, else from the model file (`asr export --lexicon
--lm --lm-params`: `config['decoding']`), else the defaults (DecoderConfig.resolved).
"""

from __future__ import annotations

from typing import Callable

import torch

from asr.decoding.config import DecoderConfig
from asr.transcribe.align import TokenSpan, forced_align, greedy_spans

Decoder = Callable[[torch.Tensor], list[TokenSpan]]


def make_decoder(loaded, config: DecoderConfig) -> Decoder:
    """The span decoder of `config` for `loaded` (asr.model.store.LoadedModel)."""
    config = config.check(loaded).resolved(loaded)
    if config.decoder == "greedy":
        return greedy_spans
    if config.decoder == "beam":
        from asr.decoding.beam import prefix_beam_search

        return timed(lambda log_probs: prefix_beam_search(log_probs, config.beam_size)[0][0])
    from asr.decoding.lm import LexiconLMDecoder

    decoder, tokenizer = LexiconLMDecoder.from_config(loaded.tokenizer, config), loaded.tokenizer

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        words = decoder.decode(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        return forced_align(log_probs, tokenizer.encode(" ".join(words)))  # words spelled, <space> between

    return decode


def timed(decode_ids: Callable[[torch.Tensor], list[int]]) -> Decoder:
    """Wrap an ids-only decoder of (T, V) log-probs so it returns token spans (by forced alignment)."""

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        return forced_align(log_probs, decode_ids(log_probs))

    return decode
