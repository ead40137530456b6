"""Several data dirs, several named decoders: `asr decode DATA_DIR... --exp-dir EXP --decoders greedy,beam,lm`.

Each data dir (its set name is its basename) is decoded with each named decoder, in the order given, into
`EXP/decode_<set>_<name>/`, exactly as the one-dir command would (asr.decoding.decode.decode_data_dir).
`greedy`, `beam` and `lm` are built-in names (their decoder is their name); a decode config (YAML, ESPnet's
conf/decode.yaml) maps names to options, setting those of a built-in name or defining a new one with `decoder:`:

    lm: {beam_size: 50, lm: data/local/lm/3gram.arpa, lexicon: data/local/dict/lexicon.txt,
         tune_lm_weights: [0, 0.25, 0.5, 1, 2], tune_word_scores: [-1, 0, 1, 2, 3]}
    lexicon: {decoder: lm, lexicon: data/local/words.txt, lm_weight: 0, beam_size: 20}

`--set NAME.key=value` (value as YAML) overrides one key. A decoder with a tuning grid searches it on the
`tune_on` set, decoded first, and the other sets use the weights it chose (its `lm_params.yaml`), as Kaldi tunes
LMWT on dev and applies it to test; without `tune_on` the grid is searched on each set. With nj > 1 a search
runs in one job (it needs every utterance at once) and the other decodings in nj jobs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterator

import yaml

from asr.decoding.decode import DECODERS, LM_PARAMS, DecodeOptions, decode_data_dir
from asr.errors import ConfigError

FIELDS = [f.name for f in dataclasses.fields(DecodeOptions)]
KINDS = {"decoder": str, "beam_size": int, "lm": Path, "lexicon": Path, "lm_weight": float, "word_score": float,
         "tune_lm_weights": list, "tune_word_scores": list, "lm_params": Path, "units": bool}


def read_decode_config(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict[str, dict]:
    """name -> {key: value} from a decode config and `NAME.key=value` overrides (value as YAML), checked."""
    entries: dict[str, dict] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such decode config") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of decoder names to options")
        for name, entry in loaded.items():
            if not isinstance(entry, dict):
                raise ConfigError(f"{path}: {name}: expected a mapping of options")
            for key, value in entry.items():
                entries.setdefault(str(name), {})[key] = _checked(str(name), key, value, f"{path}: {name}.{key}")
    for item in overrides:
        key, eq, value = item.partition("=")
        name, dot, leaf = key.partition(".")
        if not (eq and dot and name and leaf):
            raise ConfigError(f"--set {item}: expected NAME.key=value")
        entries.setdefault(name, {})[leaf] = _checked(name, leaf, yaml.safe_load(value), f"--set {item}")
    return entries


def _checked(name: str, key, value, where: str):
    """A config value typed as the one-dir command's options give it (so decode.yaml reads the same)."""
    if key not in KINDS:
        raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(FIELDS)})")
    if key == "decoder" and (value not in DECODERS or name in DECODERS and value != name):
        raise ConfigError(f"{where}: expected {name if name in DECODERS else ' or '.join(DECODERS)}")
    kind = KINDS[key]
    if value is None and kind is Path:
        return None
    try:
        if kind is list:
            return [_number(v) for v in (value if isinstance(value, list) else [value])]
        if kind is Path:
            return str(Path(value))
        if kind is int and not isinstance(value, bool) and value == int(value):
            return int(value)
        if kind is float:
            return _number(value)
        if kind is bool and isinstance(value, bool) or kind is str and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where}: bad value {value!r} (expected {'numbers' if kind is list else kind.__name__})")


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(value)
    return float(value)


def decoder_options(name: str, entries: dict[str, dict], where: str = "--decoders") -> DecodeOptions:
    """The options of decoder `name`: its entry in `entries` over the defaults."""
    if name not in DECODERS and "decoder" not in entries.get(name, {}):
        raise ConfigError(f"{where}: unknown decoder name '{name}' (built in: {', '.join(DECODERS)}; another name "
                          f"needs an entry with `decoder: {'|'.join(DECODERS)}` in the decode config)")
    opts = DecodeOptions(**{"decoder": name, **entries.get(name, {})})
    try:
        opts.check()
    except ConfigError as e:
        raise ConfigError(f"{where}: decoder '{name}': {e}") from None
    return opts


def decode_plan(data_dirs: list[str | os.PathLike], exp_dir: str | os.PathLike, names: list[str],
                entries: dict[str, dict], tune_on: str | None = None, where: str = "--decoders"
                ) -> list[tuple[str, Path, Path, DecodeOptions]]:
    """(name, data dir, decode dir, options) in decoding order; every name and option is checked first."""
    sets = {Path(d).name: Path(d) for d in data_dirs}
    if len(sets) != len(data_dirs):
        raise ConfigError(f"data dirs with the same name: {' '.join(map(str, data_dirs))}")
    if tune_on is not None and tune_on not in sets:
        raise ConfigError(f"--tune-on {tune_on}: not among the data dirs ({', '.join(sets)})")
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--decoders {','.join(names)}: expected distinct decoder names")
    options = {name: decoder_options(name, entries, where) for name in names}
    order = ([tune_on] if tune_on else []) + [s for s in sets if s != tune_on]
    plan = []
    for set_name in order:
        for name, opts in options.items():
            tuned = opts.decoder == "lm" and (opts.tune_lm_weights or opts.tune_word_scores)
            if tune_on is not None and set_name != tune_on and tuned:
                params = Path(exp_dir) / f"decode_{tune_on}_{name}" / LM_PARAMS
                opts = dataclasses.replace(opts, tune_lm_weights=[], tune_word_scores=[], lm_params=str(params))
            plan.append((name, sets[set_name], Path(exp_dir) / f"decode_{set_name}_{name}", opts))
    return plan


def decode_sets(model_dir: str | os.PathLike, data_dirs: list[str | os.PathLike], exp_dir: str | os.PathLike,
                names: list[str], entries: dict[str, dict], tune_on: str | None = None, nj: int = 1,
                cmd: str = "local", device: str = "cpu", progress: bool = True, where: str = "--decoders"
                ) -> Iterator[tuple[str, Path]]:
    """Decode every data dir with every named decoder (see the module doc); yields (name, text) as each ends."""
    for name, data_dir, out_dir, opts in decode_plan(data_dirs, exp_dir, names, entries, tune_on, where):
        searched = opts.decoder == "lm" and (opts.tune_lm_weights or opts.tune_word_scores)
        if (nj > 1 or cmd.split()[:1] != ["local"]) and not searched:
            from asr.decoding.jobs import decode_in_jobs

            yield name, decode_in_jobs(model_dir, data_dir, out_dir, nj, cmd, device=device, options=opts)
        else:
            yield name, decode_data_dir(model_dir, data_dir, out_dir, device=device, progress=progress, options=opts)
