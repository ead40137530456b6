"""The decoder options that `asr decode` and `asr transcribe` share, declared once."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Optional

import typer

DECODER_OPTIONS = {  # name: (type, option): the decoder options of `asr decode` and `asr transcribe`
    "decoder": (Optional[str], typer.Option(None, "--decoder", help="greedy, beam (CTC prefix search) or lm "
                                                                    "(lexicon + word n-gram) (default: the model's "
                                                                    "decoding.yaml, else greedy)")),
    "beam_size": (Optional[int], typer.Option(None, "--beam-size", help="beam: prefixes kept; lm: the search beam "
                                                                        "(default: the model's, else 10)")),
    "lm": (Optional[Path], typer.Option(None, "--lm", help="lm: ARPA word n-gram (default: the model's)")),
    "lexicon": (Optional[Path], typer.Option(None, "--lexicon", help="lm: the vocabulary, first field per line "
                                                                     "(default: the model's)")),
    "lm_weight": (Optional[float], typer.Option(None, "--lm-weight", help="lm: weight of the LM (default: "
                                                                          "--lm-params', the model's, or 1)")),
    "word_score": (Optional[float], typer.Option(None, "--word-score", help="lm: added per word (default: "
                                                                            "--lm-params', the model's, or 0)")),
    "lm_params": (Optional[Path], typer.Option(None, "--lm-params", help="lm: lm_params.yaml of a dev search "
                                                                         "(asr decode --tune-lm-weights)")),
    "nbest": (Optional[int], typer.Option(None, "--nbest", help="lm: rescore the search's N best by their full "
                                                               "CTC likelihood (default: the model's; 20 for an "
                                                               "ensemble combined by sequence, else 1: none)")),
    "spell_lm": (Optional[Path], typer.Option(None, "--spell-lm", help="lm: ARPA letter n-gram for hypotheses "
                                                                       "spelled letter by letter, in the N-best "
                                                                       "rescoring (default: the model's)")),
    "spell_weight": (Optional[float], typer.Option(None, "--spell-weight", help="lm: weight of --spell-lm "
                                                                                "(default: the model's, or 1; "
                                                                                "0: none)")),
    "speaker_graph": (Optional[int], typer.Option(None, "--speaker-graph", help="lm without an LM: isolated words, "
                                                                              "one per recording, each speaker's "
                                                                              "decided together over the K "
                                                                              "recordings most alike (0: off; "
                                                                              "default: the model's)",
                                                  metavar="K")),
    "units": (bool, typer.Option(False, "--units", help="the model's units (e.g. phones) rather than words: "
                                                        "greedy unless --decoder says otherwise")),
}


def decoder_options(fn):
    """Give a command the decoder options (DECODER_OPTIONS), declared once here, in place of its parameter
    `decoder_config`, which receives them as one asr.decoding.config.DecoderConfig."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("decoder_config")
    added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option, annotation=kind)
             for name, (kind, option) in DECODER_OPTIONS.items()]

    @functools.wraps(fn)
    def wrapper(**kwargs):
        from asr.decoding.config import DecoderConfig

        values = {name: kwargs.pop(name) for name in DECODER_OPTIONS}
        paths = {k: str(v) for k, v in values.items() if isinstance(v, Path)}
        return fn(**kwargs, decoder_config=DecoderConfig(**{**values, **paths}))

    wrapper.__signature__ = signature.replace(parameters=params[:at] + added + params[at + 1:])
    wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "decoder_config"},
                               **{name: kind for name, (kind, _) in DECODER_OPTIONS.items()}}
    return wrapper
