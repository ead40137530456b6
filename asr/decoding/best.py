"""The recipe's decoder, recorded in its model: `asr model set-decoder MODEL DECODE_DIR... --on dev`.

Of the scored decode dirs (`decode.yaml` from asr decode, `scores.txt` or `report.json` from asr score) of the
`on` set, the one with the fewest word errors wins (ties: the first given); its settings (decoder, beam size,
lexicon, LM, lm_weight, word_score, nbest, any spelling LM and any speaker graph as its decoding used them) go
into the model dir's decoding.yaml, its lexicon and LMs are copied beside it (asr.model.store.write_decoding),
and the decode dirs given are recorded for the model card. With one decoder among the dirs there is nothing to choose, and no `on`
set is needed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from asr.errors import ConfigError, DataError
from asr.model.store import write_decoding

SETTINGS = ("decoder", "beam_size", "lexicon", "lm", "lm_weight", "word_score", "nbest", "spell_lm", "spell_weight")
GRAPH_SETTINGS = ("speaker_graph", "graph_alpha", "graph_max_dist", "graph_band_hz")  # asr.decoding.speaker_graph
WER_LINE = re.compile(r"%WER (\d+(?:\.\d+)?) \[ (\d+) / (\d+)")


def wer_line(decode_dir: str | os.PathLike) -> str | None:
    """The decode dir's Kaldi `%WER` line (from scores.txt or report.json), None if it was not scored."""
    d = Path(decode_dir)
    if (d / "scores.txt").is_file():
        lines = [line for line in (d / "scores.txt").read_text().splitlines() if WER_LINE.match(line)]
        if lines:
            return lines[0]
    if (d / "report.json").is_file():
        return json.loads((d / "report.json").read_text())["kaldi"]["lines"][0]
    return None


def decode_settings(decode_dir: Path) -> dict:
    path = decode_dir / "decode.yaml"
    if not path.is_file():
        raise DataError(f"{decode_dir}: no decode.yaml (not a decode dir of `asr decode`)")
    return yaml.safe_load(path.read_text()) or {}


def decoder_settings(settings: dict) -> dict:
    """What of a decode.yaml a model records: the decoder and beam size, and for lm its files and weights."""
    keys = SETTINGS if settings.get("decoder") == "lm" else SETTINGS[:2]
    if not settings.get("spell_lm"):
        keys = [k for k in keys if k != "spell_weight"]
    if settings.get("decoder") == "lm" and settings.get("speaker_graph"):
        keys = [*keys, *GRAPH_SETTINGS]
    return {k: settings[k] for k in keys if settings.get(k) is not None}


def decoder_name(decode_dir: Path, set_name: str) -> str:
    """`decode_<set>_<name>` -> name (else the dir's name)."""
    return decode_dir.name.removeprefix(f"decode_{set_name}_")


def choose_decoder(decode_dirs: list[str | os.PathLike], on: str | None = None) -> dict:
    """The chosen decoder's settings, with `name`, `chosen_on` and its `wer` line (see the module doc)."""
    dirs = [Path(d) for d in decode_dirs]
    if not dirs:
        raise ConfigError("no decode dirs to choose from")
    found = []  # (dir, settings, set name, decoder name)
    for d in dirs:
        settings = decode_settings(d)
        set_name = Path(str(settings.get("data", ""))).name
        found.append((d, settings, set_name, decoder_name(d, set_name)))
    candidates = [f for f in found if f[2] == on]
    if not candidates:  # one decoder: nothing to choose
        if len({f[3] for f in found}) > 1:
            raise ConfigError(f"choosing among decoders {', '.join(sorted({f[3] for f in found}))} needs their "
                              f"decode dirs of --on {on or 'SET'} (the dev set)")
        settings = found[0][1]
        return {**decoder_settings(found[0][1]), "name": found[0][3]}
    best, best_key = None, None
    for d, settings, set_name, name in candidates:
        line = wer_line(d)
        m = WER_LINE.match(line) if line else None
        if m is None:
            raise DataError(f"{d}: not scored (no %WER line in scores.txt or report.json)")
        key = int(m[2]) / max(int(m[3]), 1)
        if best_key is None or key < best_key:
            best, best_key = (settings, set_name, name, line), key
    settings, set_name, name, line = best
    return {**decoder_settings(settings), "name": name, "chosen_on": set_name, "wer": line}


def set_decoder(model_dir: str | os.PathLike, decode_dirs: list[str | os.PathLike], on: str | None = None) -> dict:
    """Choose among `decode_dirs` and record the choice in `model_dir`; returns what was recorded."""
    chosen = choose_decoder(decode_dirs, on)
    home = Path(model_dir).resolve()
    chosen["decode_dirs"] = [os.path.relpath(Path(d).resolve(), home) for d in decode_dirs]
    write_decoding(model_dir, chosen)
    return chosen
