"""One decoder's settings, `DecoderConfig`, for `asr decode`, `asr transcribe` and the Transcriber; the named
decoders of a decode config (ESPnet's conf/decode.yaml: name -> DecoderConfig); the `lm_params.yaml` an LM
weight search writes.

What a config leaves open (None) comes from the model (`resolved`): a model dir's decoding.yaml or a `.asr`
file's packed decoding (asr.model.store, asr.export.package), which the recipe fills with the decoder it chose on
dev. The decoder is the config's, else (unless `units` asks for units: greedy) the model's, else greedy; the beam size the config's, else the model's
when its decoder is the same, else 10. The lm decoder's vocabulary and LM are the config's (either given: both
from the config), else the model's; its lm_weight and word_score the config's, else the lm_params file's, else
the model's, else 1 and 0. Its `nbest` (rescoring, asr.decoding.rescore) the config's, else the model's, else
NBEST for an ensemble combined by sequence or a decoder with a spelling LM, else 1 (no rescoring). The
spelling LM (asr.decoding.spelling) and its weight: the config's, else the model's (the weight: else SPELL_WEIGHT).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from asr.config import Located, apply_overrides, load_config, located, section_from_dict
from asr.errors import ConfigError

DECODERS = ("greedy", "beam", "lm")
LM_PARAMS = "lm_params.yaml"
LM_WEIGHT, WORD_SCORE = 1.0, 0.0  # when neither the config, its lm_params nor the model file sets them
BEAM_SIZE = 10  # when neither the config nor the model (for the same decoder) sets it
SPELL_WEIGHT = 1.0  # a spelling LM's weight when neither the config nor the model sets it (AN4 dev: NOTES.md)
# speaker_graph's defaults (asr.decoding.speaker_graph; chosen on FSDD's dev speaker, egs/digits/NOTES.md)
GRAPH_ALPHA, GRAPH_MAX_DIST, GRAPH_BAND_HZ = 0.9, 1.5, 4000.0


@dataclass
class DecoderConfig:
    decoder: str | None = None  # greedy (best path), beam (CTC prefix search), lm (lexicon + word n-gram); None:
    # the model's (see the module doc)
    beam_size: int | None = None  # beam: prefixes kept; lm: the flashlight beam (at least 50 recommended)
    lm: str | None = None  # lm: ARPA file (None: vocabulary-constrained search without an LM)
    lexicon: str | None = None  # lm: vocabulary (a lexicon's first field); default: the ARPA's unigrams
    lm_weight: float | None = None  # lm: the LM's weight (None: see the module doc)
    word_score: float | None = None  # lm: added per word, an insertion bonus (None: see the module doc)
    tune_lm_weights: list[float] = field(default_factory=list)  # lm: a grid searched on a data dir's text
    tune_word_scores: list[float] = field(default_factory=list)
    lm_params: str | None = None  # lm: lm_params.yaml of an earlier search: its lm_weight and word_score
    units: bool = False  # greedy/beam: the model's units even when they are not words (phones)
    nbest: int | None = None  # lm: rescore the search's N best by their full CTC likelihood (asr.decoding.rescore;
    # 1: the search's best as it is); None: the model's, else NBEST for an ensemble combined by sequence or with a
    # spelling LM, else 1
    spell_lm: str | None = None  # lm: ARPA letter n-gram for hypotheses spelled letter by letter, applied in the
    # N-best rescoring (asr.decoding.spelling); None: the model's, if any
    spell_weight: float | None = None  # lm: the spelling LM's weight (None: the model's, else SPELL_WEIGHT)
    speaker_graph: int | None = None  # lm without an LM: isolated words (one word of the lexicon per recording), each
    # speaker's recordings decided together, every word's probability spread over the k recordings that sound most
    # like it (asr.decoding.speaker_graph); 0: off; None: the model's, else 0
    graph_alpha: float | None = None  # speaker_graph: the neighbours' weight (None: the model's, else GRAPH_ALPHA)
    graph_max_dist: float | None = None  # speaker_graph: no edge between recordings further apart (DTW distance)
    graph_band_hz: float | None = None  # speaker_graph: the DTW compares the mel bins below this frequency

    @property
    def tuned(self) -> bool:
        """Whether the LM weights are searched on a grid (decoder None: may be, once resolved)."""
        return self.decoder in ("lm", None) and bool(self.tune_lm_weights or self.tune_word_scores)

    def check(self, loaded=None) -> "DecoderConfig":
        """Raise ConfigError for settings that cannot work; with `loaded` (asr.model.store.LoadedModel) also
        for its units and the vocabulary its model file packs. Returns self."""
        if self.decoder is not None and self.decoder not in DECODERS:
            raise ConfigError(f"unknown decoder '{self.decoder}' (choose from {', '.join(DECODERS)})")
        if self.decoder != "greedy" and self.beam_size is not None and self.beam_size < 1:
            raise ConfigError(f"--beam-size must be at least 1, not {self.beam_size}")
        packed = _packed(loaded)
        if self.decoder == "lm" and not (self.lm or self.lexicon or packed.get("lm") or packed.get("lexicon")):
            raise ConfigError("--decoder lm needs --lm (ARPA) and/or --lexicon (the vocabulary)"
                              + (", or a model file exported with them" if loaded is not None else ""))
        if self.nbest is not None and self.nbest < 1:
            raise ConfigError(f"nbest must be at least 1, not {self.nbest}")
        if self.spell_lm and self.nbest == 1:
            raise ConfigError("a spelling LM acts in the N-best rescoring: it needs nbest above 1, not 1")
        if self.lm_params and (self.tune_lm_weights or self.tune_word_scores):
            raise ConfigError("give either a tuning grid or --lm-params, not both")
        if self.speaker_graph:
            if self.speaker_graph < 0:
                raise ConfigError(f"speaker_graph must be 0 (off) or a number of neighbours, not {self.speaker_graph}")
            if self.decoder not in ("lm", None) or self.lm or self.spell_lm or (self.nbest or 1) > 1 or self.tuned:
                raise ConfigError("speaker_graph decodes isolated words: decoder lm with a lexicon, no LM, no "
                                  "spelling LM, no N-best rescoring and no LM weights to tune")
            if self.graph_alpha is not None and not 0 <= self.graph_alpha < 1:
                raise ConfigError(f"graph_alpha must be in [0, 1), not {self.graph_alpha}")
        tok = getattr(loaded, "tokenizer", None)
        if tok is not None and self.decoder in ("greedy", "beam") and not tok.word_level and not self.units:
            raise ConfigError(f"a {tok.kind} model gives words only through a lexicon: use --decoder lm")
        return self

    def resolved(self, loaded=None) -> "DecoderConfig":
        """A copy with what the config leaves open filled in (see the module doc)."""
        packed = _packed(loaded)
        decoder = self.decoder or ("greedy" if self.units else packed.get("decoder") or "greedy")
        beam_size = self.beam_size if self.beam_size is not None else \
            int(packed["beam_size"]) if packed.get("beam_size") and packed.get("decoder") == decoder else BEAM_SIZE
        values = {"decoder": decoder, "beam_size": beam_size}
        if decoder == "lm":
            files = (self.lexicon, self.lm) if self.lexicon or self.lm else (packed.get("lexicon"), packed.get("lm"))
            values.update(lexicon=files[0], lm=files[1], spell_lm=self.spell_lm or packed.get("spell_lm"))
            if self.lm_params:
                packed = {**packed, **read_lm_params(self.lm_params)}
            nbest = self.nbest if self.nbest is not None else packed.get("nbest") or default_nbest(loaded)
            if values["spell_lm"] and self.nbest is None and int(nbest) == 1:  # the model's choice had none
                nbest = default_nbest(loaded, spelling=True)
            values["nbest"] = int(nbest)
        for key, default in (("lm_weight", LM_WEIGHT), ("word_score", WORD_SCORE), ("spell_weight", SPELL_WEIGHT)):
            value = getattr(self, key)
            values[key] = float(value if value is not None else packed.get(key, default))
        own_files = decoder == "lm" and bool(self.lexicon or self.lm)  # the model's graph goes with its vocabulary
        graph = {} if own_files or packed.get("decoder") != decoder else packed
        for key, default, kind in (("speaker_graph", 0, int), ("graph_alpha", GRAPH_ALPHA, float),
                                   ("graph_max_dist", GRAPH_MAX_DIST, float), ("graph_band_hz", GRAPH_BAND_HZ, float)):
            value = getattr(self, key)
            values[key] = kind(value if value is not None else graph.get(key, default))
        if values["speaker_graph"] and self.nbest is None:  # isolated words: nothing to rescore
            values["nbest"] = 1
        return dataclasses.replace(self, **values)


def default_nbest(loaded, spelling: bool = False) -> int:
    """NBEST for an ensemble whose members are combined by sequence or with a spelling LM (they need rescoring),
    else 1."""
    from asr.decoding.rescore import NBEST
    from asr.model.ensemble import combines_by_sequence

    return NBEST if spelling or combines_by_sequence(getattr(loaded, "model", None)) else 1


def _packed(loaded) -> dict:
    """The model's decoding settings (asr.model.store.read_decoding): decoder, beam_size, lexicon, lm, ..."""
    return (getattr(loaded, "config", None) or {}).get("decoding") or {}


def read_lm_params(path: str | os.PathLike) -> dict:
    """{lm_weight, word_score} of an lm_params.yaml."""
    try:
        params = yaml.safe_load(Path(path).read_text())
        return {"lm_weight": float(params["lm_weight"]), "word_score": float(params["word_score"])}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (run the dev decoding with a tuning grid first)") from None
    except (TypeError, KeyError, ValueError, yaml.YAMLError):
        raise ConfigError(f"{path}: expected lm_weight and word_score numbers") from None


# ---- named decoders ---------------------------------------------------------------------------------------


def read_decode_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict[str, DecoderConfig]:
    """The named decoders: `greedy`, `beam` and `lm` (their decoder is their name) and those of a decode config
    (YAML: name -> {key: value}; a name not built in gives its `decoder:`), then `NAME.key=value` overrides
    (value as YAML). Keys and values are checked as `asr train`'s config is (asr.config), naming the file and
    line or the override; the decoders themselves are not (`check`)."""
    for item in overrides:
        if "." not in item.partition("=")[0]:
            raise ConfigError(f"--set {item}: expected NAME.key=value")
    config = apply_overrides(load_config(path) if path is not None else Located(), overrides)
    named = {name: DecoderConfig(decoder=name) for name in DECODERS}
    for name, options in config.items():
        if not isinstance(options, dict):
            raise ConfigError(f"{located(config, name, str(name))}: expected a mapping of {name}'s options")
        if "decoder" not in options and name not in DECODERS:
            raise ConfigError(f"{located(config, name, str(name))}: '{name}' is not a built-in decoder name: give "
                              f"its decoder ({name}.decoder: {' or '.join(DECODERS)})")
        given = options.setdefault("decoder", name)
        if given not in DECODERS or name in DECODERS and given != name:
            raise ConfigError(f"{located(options, 'decoder', f'{name}.decoder')}: expected "
                              f"{name if name in DECODERS else ' or '.join(DECODERS)}")
        named[name] = section_from_dict(DecoderConfig, options, str(name))
    return named
