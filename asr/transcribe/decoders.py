"""The decoder choice of `asr transcribe` (`--decoder greedy|beam|lm`).

Every decoder maps a stretch of (T, V) log-probs to `TokenSpan`s, so each gets word times and confidences:
greedy reads them off its best path; prefix beam search (asr.decoding.beam) returns token ids and lexicon + LM
search (asr.decoding.lm) words, which are spelled in the model's units and timed by forced alignment to the
same log-probs.

The lm decoder's vocabulary, LM and weights come from the options, else from the model file
(`asr export --lexicon --lm --lm-params`: `config['decoding']`), else the defaults (lm_weight 1, word_score 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from asr.transcribe.align import TokenSpan, forced_align, greedy_spans
from asr.errors import ConfigError

DECODERS = ("greedy", "beam", "lm")
Decoder = Callable[[torch.Tensor], list[TokenSpan]]


@dataclass
class DecoderOptions:
    beam_size: int = 10  # beam: prefixes kept; lm: the search beam (50 or more recommended)
    lexicon: str | None = None  # lm: the vocabulary (first field per line)
    lm: str | None = None  # lm: ARPA word n-gram
    lm_weight: float | None = None  # lm: None = the model file's, else 1.0
    word_score: float | None = None  # lm: None = the model file's, else 0.0


def make_decoder(name: str, loaded, options: DecoderOptions | None = None) -> Decoder:
    """A decoder for `loaded` (asr.model.store.LoadedModel)."""
    options = options or DecoderOptions()
    if name not in DECODERS:
        raise ConfigError(f"unknown decoder '{name}' (choose from {', '.join(DECODERS)})")
    tokenizer = loaded.tokenizer
    if name != "lm" and not tokenizer.word_level:
        raise ConfigError(f"a {tokenizer.kind} model gives words only through a lexicon: use --decoder lm")
    if name == "greedy":
        return greedy_spans
    if options.beam_size < 1:
        raise ConfigError(f"--beam-size must be at least 1, not {options.beam_size}")
    if name == "beam":
        from asr.decoding.beam import prefix_beam_search

        return timed(lambda log_probs: prefix_beam_search(log_probs, options.beam_size)[0][0])
    decoder = lm_decoder(loaded, options)

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        words = decoder.decode(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        return forced_align(log_probs, tokenizer.encode(" ".join(words)))  # words spelled, <space> between

    return decode


def lm_decoder(loaded, options: DecoderOptions):
    from asr.decoding.lm import LexiconLMDecoder, LMDecoderConfig, read_words

    packed = loaded.config.get("decoding") or {}
    lexicon, lm = options.lexicon or packed.get("lexicon"), options.lm or packed.get("lm")
    if not (lexicon or lm):
        raise ConfigError("--decoder lm needs --lm (ARPA) and/or --lexicon (the vocabulary), or a model file "
                          "exported with them")
    words = sorted({w for path in (lexicon, lm) if path for w in read_words(path)})
    config = LMDecoderConfig(
        lm_weight=options.lm_weight if options.lm_weight is not None else float(packed.get("lm_weight", 1.0)),
        word_score=options.word_score if options.word_score is not None else float(packed.get("word_score", 0.0)),
        beam_size=options.beam_size)
    return LexiconLMDecoder(loaded.tokenizer, words, lm, config)


def timed(decode_ids: Callable[[torch.Tensor], list[int]]) -> Decoder:
    """Wrap an ids-only decoder of (T, V) log-probs so it returns token spans (by forced alignment)."""

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        return forced_align(log_probs, decode_ids(log_probs))

    return decode
