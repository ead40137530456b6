"""The decoders of transcription: a DecoderConfig (asr.decoding.config) -> a function of a stretch of (T, V)
log-probs giving `TokenSpan`s, so that each decoder gets word times and confidences: greedy reads them off its
best path; prefix beam search (asr.decoding.beam) returns token ids and lexicon + LM search (asr.decoding.lm)
words, which are spelled in the model's units and timed by forced alignment to the same log-probs (the words
themselves ride on the spans, so phone and BPE models print words).

What the config leaves open (the decoder itself, its files and weights) is the model's: its decoding.yaml or
the `.asr` file's (DecoderConfig.resolved). The lexicon decoder with `nbest` > 1 rescores its N best
(asr.decoding.rescore); with `speaker_graph` it gives the one word of an isolated-word recording
(asr.decoding.speaker_graph). An ensemble combined by sequence hands the decoders (T, 1 + M, V): the posterior mean,
then its M members' log-probs (members_layout); the rescoring takes the members, everything else the mean.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from asr.decoding.config import DecoderConfig
from asr.model.ensemble import combines_by_sequence
from asr.text.tokenizer import SPACE
from asr.transcribe.align import TokenSpan, forced_align, greedy_spans

Decoder = Callable[[torch.Tensor], list[TokenSpan]]


def members_layout(loaded) -> bool:
    """Whether the model's log-probs reach the decoders as (T, 1 + M, V) (an ensemble combined by sequence)."""
    return combines_by_sequence(loaded.model)


def make_decoder(loaded, config: DecoderConfig) -> Decoder:
    """The span decoder of `config` for `loaded` (asr.model.store.LoadedModel)."""
    config = config.resolved(loaded).check(loaded)
    by_sequence = members_layout(loaded)
    if config.decoder == "greedy":
        decode = greedy_spans
    elif config.decoder == "beam":
        from asr.decoding.beam import prefix_beam_search

        decode = timed(lambda log_probs: prefix_beam_search(log_probs, config.beam_size)[0][0])
    elif config.speaker_graph:  # isolated words; each alone here (the Transcriber decides a speaker's together)
        from asr.decoding.speaker_graph import IsolatedWords

        return isolated_word_spans(IsolatedWords.from_config(loaded.tokenizer, config), by_sequence)
    elif config.nbest > 1 or by_sequence:
        from asr.decoding.rescore import NBestRescorer

        return rescored_spans(NBestRescorer.from_config(loaded.tokenizer, config), by_sequence)
    else:
        from asr.decoding.lm import LexiconLMDecoder

        decode = lexicon_spans(LexiconLMDecoder.from_config(loaded.tokenizer, config))
    return (lambda log_probs: decode(log_probs[:, 0])) if by_sequence else decode


def rescored_spans(rescorer, by_sequence: bool) -> Decoder:
    """Spans of the words an asr.decoding.rescore.NBestRescorer picks, aligned to the (mean) log-probs."""
    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        mean, members = split_members(log_probs, by_sequence)
        return words_to_spans(rescorer.search, mean, rescorer.decode_one(members))

    return decode


def isolated_word_spans(words, by_sequence: bool) -> Decoder:
    """The span of the one word an asr.decoding.speaker_graph.IsolatedWords picks (from an ensemble's members'
    log-probs when it is combined by sequence), aligned to the (mean) log-probs."""
    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        mean, members = split_members(log_probs, by_sequence)
        return words_to_spans(words, mean, [words.best(members)])

    return decode


def split_members(log_probs: torch.Tensor, by_sequence: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, V) mean log-probs and (M, T, V) members' of what the decoders get ((T, 1 + M, V) by sequence)."""
    if by_sequence:
        return log_probs[:, 0], log_probs[:, 1:].transpose(0, 1)
    return log_probs, log_probs[None]


def lexicon_spans(decoder) -> Decoder:
    """Spans of the words of an asr.decoding.lm.LexiconLMDecoder: each word spelled as the decoder's lexicon
    spells it, `<space>` between words where the units have it, forced-aligned to the log-probs; a word's first
    span carries the word, so that units that are not words (phones, BPE pieces) print it."""
    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        words = decoder.decode(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        return words_to_spans(decoder, log_probs, words)

    return decode


def words_to_spans(decoder, log_probs: torch.Tensor, words: list[str]) -> list[TokenSpan]:
    """The words of a lexicon decoder spelled in its units (`<space>` between them where the units have it),
    forced-aligned to the (T, V) log-probs; a word's first span carries the word."""
    tokenizer = decoder.tokenizer
    space = [tokenizer.index[SPACE]] if tokenizer.space_between_words else []
    spelled = [[tokenizer.index[u] for u in decoder.lexicon[w][0]] for w in words]
    ids = [i for k, spelling in enumerate(spelled) for i in (space if k else []) + spelling]
    spans, out = forced_align(log_probs, ids), []
    for k, (word, spelling) in enumerate(zip(words, spelled)):
        if k and space:
            out.append(spans.pop(0))
        first, spans = spans[:len(spelling)], spans[len(spelling):]
        out += [dataclasses.replace(first[0], word=word), *first[1:]]
    return out


def timed(decode_ids: Callable[[torch.Tensor], list[int]]) -> Decoder:
    """Wrap an ids-only decoder of (T, V) log-probs so it returns token spans (by forced alignment)."""

    def decode(log_probs: torch.Tensor) -> list[TokenSpan]:
        return forced_align(log_probs, decode_ids(log_probs))

    return decode
