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
runs in one job (it needs every utterance at once) and the other decodings in nj jobs; in one process, the
decoders of a data dir share one forward pass.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Iterator

from asr.decoding.config import DECODERS, LM_PARAMS, DecoderConfig
from asr.decoding.decode import decode_with_each
from asr.errors import ConfigError


def decode_plan(data_dirs: list[str | os.PathLike], exp_dir: str | os.PathLike, names: list[str],
                decoders: dict[str, DecoderConfig], tune_on: str | None = None, where: str = "--decoders"
                ) -> list[tuple[str, Path, Path, DecoderConfig]]:
    """(name, data dir, decode dir, config) in decoding order; `decoders` (asr.decoding.config.read_decode_config)
    names the decoders; `where` is their source, for messages. Every name and config is checked first."""
    sets = {Path(d).name: Path(d) for d in data_dirs}
    if len(sets) != len(data_dirs):
        raise ConfigError(f"data dirs with the same name: {' '.join(map(str, data_dirs))}")
    if tune_on is not None and tune_on not in sets:
        raise ConfigError(f"--tune-on {tune_on}: not among the data dirs ({', '.join(sets)})")
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--decoders {','.join(names)}: expected distinct decoder names")
    for name in names:
        if name not in decoders:
            raise ConfigError(f"{where}: unknown decoder name '{name}' (built in: {', '.join(DECODERS)}; others are "
                              "defined in a decode config)")
        try:
            decoders[name].check()
        except ConfigError as e:
            raise ConfigError(f"{where}: decoder '{name}': {e}") from None
    order = ([tune_on] if tune_on else []) + [s for s in sets if s != tune_on]
    plan = []
    for set_name in order:
        for name in names:
            config = decoders[name]
            if tune_on is not None and set_name != tune_on and config.tuned:  # the weights the search chose
                params = Path(exp_dir) / f"decode_{tune_on}_{name}" / LM_PARAMS
                config = dataclasses.replace(config, tune_lm_weights=[], tune_word_scores=[], lm_params=str(params),
                                             lm_weight=None, word_score=None)
            plan.append((name, sets[set_name], Path(exp_dir) / f"decode_{set_name}_{name}", config))
    return plan


def decode_sets(model_dir: str | os.PathLike, data_dirs: list[str | os.PathLike], exp_dir: str | os.PathLike,
                names: list[str], decoders: dict[str, DecoderConfig], tune_on: str | None = None, nj: int = 1,
                cmd: str = "local", device: str = "cpu", progress: bool = True, where: str = "--decoders"
                ) -> Iterator[tuple[str, Path]]:
    """Decode every data dir with every named decoder (see the module doc); yields (name, text) as each ends. In
    this process, the decoders of one data dir share one forward pass (asr.decoding.decode.decode_with_each)."""
    in_jobs = nj > 1 or cmd.split()[:1] != ["local"]
    plan = decode_plan(data_dirs, exp_dir, names, decoders, tune_on, where)
    for data_dir, group in itertools.groupby(plan, key=lambda step: step[1]):
        here = []
        for name, _, out_dir, config in group:
            if in_jobs and not config.tuned:
                from asr.decoding.jobs import decode_in_jobs

                yield name, decode_in_jobs(model_dir, data_dir, out_dir, nj, cmd, device=device, config=config)
            else:
                here.append((name, out_dir, config))
        if here:
            texts = decode_with_each(model_dir, data_dir, [(out, config) for _, out, config in here], device=device,
                                     progress=progress)
            yield from zip([name for name, _, _ in here], texts)
