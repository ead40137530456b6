"""A recipe's RESULTS.md (ESPnet's form) from its exp dirs and run log: `asr results`.

    asr results --exp exp/<tag> [--exp exp/<other> ...] --run-log exp/log/run.log --out RESULTS.md --title "..."

Reads every `decode_<set>_<decoder>/` of the exp dir that `asr score --out` has filled (results.md, report.json,
decode.yaml, lm_params.yaml), the model's config.yaml and, from the run log, the last run's command, git hash,
versions and the start time of each stage (so each stage's wall time). Sections: environment, the model,
WER and CER tables (`|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|`, one row per decode dir), how each row was
produced, stage wall times.
"""

from __future__ import annotations

import datetime
import json
import platform
import re
from pathlib import Path

import yaml

from asr.errors import DataError
from asr.fileio import atomic_write_text

HEADER = "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|"


def runs(run_log: Path) -> list[list[str]]:
    """The run log's runs, oldest first: each the lines from its `# <ISO time> <command>` header on."""
    lines = run_log.read_text().splitlines() if run_log.exists() else []
    starts = [i for i, line in enumerate(lines) if re.match(r"# \d{4}-\d\d-\d\dT", line)]
    return [lines[a:b] for a, b in zip(starts, starts[1:] + [len(lines)])]


def last_run(run_log: Path) -> tuple[list[str], list[tuple[str, int]], int | None]:
    """The header lines of the last run in the log, its stages as (title, start time), its end time."""
    found = runs(run_log)
    return parse_run(found[-1] if found else [])


def timed_run(run_log: Path) -> tuple[str, list[tuple[str, int]], int | None]:
    """The run whose stage times RESULTS.md shows: the last one, unless it only wrote the results again (e.g.
    `./run.sh --stage 9 --notes F`): then the last one before it that ran other stages. Its command line, its
    stages as (title, start time), its end time."""
    found = [parse_run(run) for run in runs(run_log)]
    for header, stages, end in reversed(found):
        if any(not title.endswith(": results") for title, _ in stages):
            return (header[0][2:] if header else ""), stages, end
    header, stages, end = found[-1] if found else ([], [], None)
    return (header[0][2:] if header else ""), stages, end


def parse_run(run: list[str]) -> tuple[list[str], list[tuple[str, int]], int | None]:
    """One run's header lines (command, git, versions), its stages as (title, start time), its end time."""
    header = [line for line in run if line.startswith("# ") and not line.startswith("# stage")][:3]
    stages, end = [], None
    for line in run:
        m = re.match(r"# stage (\d+): (.*) \([\d:]+, t=(\d+)\)$", line)
        if m:
            stages.append((f"{m[1]}: {m[2]}", int(m[3])))
        m = re.match(r"# end \([\d:]+, t=(\d+)\)$", line)
        if m:
            end = int(m[1])
    return header, stages, end


def table_rows(results_md: Path, name: str) -> tuple[str, str]:
    """The WER and CER rows of an `asr score` results.md, relabelled with the decode dir's name."""
    text = results_md.read_text()
    rows = []
    for section in ("### WER", "### CER"):
        part = text.split(section, 1)[1]
        row = next(line for line in part.splitlines() if line.startswith("|") and not line.startswith("|dataset")
                   and not line.startswith("|---"))
        rows.append("|" + name + "|" + row.split("|", 2)[2])
    return rows[0], rows[1]


def how(decode_dir: Path, set_name: str) -> str:
    """The commands that produced a decode dir, from its decode.yaml."""
    path = decode_dir / "decode.yaml"
    settings = yaml.safe_load(path.read_text()) if path.exists() else {}
    dec = settings.get("decoder", "greedy")
    cmd = f"asr decode {settings.get('model', 'exp/model')} {settings.get('data', 'data/' + set_name)} {decode_dir} " \
          f"--decoder {dec}"
    chosen = ""
    if dec == "beam":
        cmd += f" --beam-size {settings['beam_size']}"
    elif dec == "lm":
        cmd += f" --beam-size {settings['beam_size']}"
        cmd += f" --lm {settings['lm']}" if settings.get("lm") else ""
        cmd += f" --lexicon {settings['lexicon']}"
        cmd += f" --nbest {settings['nbest']}" if (settings.get("nbest") or 1) > 1 else ""
        if settings.get("spell_lm"):
            cmd += f" --spell-lm {settings['spell_lm']} --spell-weight {settings['spell_weight']:g}"
        if settings.get("speaker_graph"):
            cmd += f" --speaker-graph {settings['speaker_graph']}"
        lm_weight, word_score = f"{settings['lm_weight']:g}", f"{settings['word_score']:g}"
        if settings.get("tune_lm_weights"):
            cmd += (f" --tune-lm-weights {','.join(f'{v:g}' for v in settings['tune_lm_weights'])}"
                    f" --tune-word-scores {','.join(f'{v:g}' for v in settings['tune_word_scores'])}")
        elif settings.get("lm_params"):
            cmd += f" --lm-params {settings['lm_params']}"
        else:  # fixed weights: in the command
            cmd += f" --lm-weight {lm_weight} --word-score {word_score}"
        if settings.get("tune_lm_weights") or settings.get("lm_params"):
            chosen = f" (lm_weight {lm_weight}, word_score {word_score})"
    data = settings.get("data", f"data/{set_name}")
    return f"`{cmd}` then `asr score {data}/text {decode_dir}/text --out {decode_dir}`{chosen}"


def write_results(exps: list[Path], run_log: Path, out: Path, title: str = "Results",
                  notes: Path | None = None) -> int:
    """Write RESULTS.md to `out` from the scored decode dirs of `exps` (the first is the final system) and the
    run log (run from the recipe's folder); return how many decode dirs it lists."""
    decode_dirs = [d for exp in exps for d in scored_dirs(exp)]
    header, _, _ = last_run(run_log)
    timed_command, stages, end = timed_run(run_log)
    lines = [f"# {title}", "", "<!-- Generated by `asr results` at the end of run.sh; do not edit by hand. -->",
             "", "## Environment", "",
             f"- date: `{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}`"]
    lines += [f"- {line[2:]}".replace("- git ", "- git hash: ", 1) for line in header]
    lines.append(f"- machine: `{platform.machine()}`, `{platform.system()} {platform.release()}`")
    lines += ["", "## Model", "", *model_section(exps)]
    wer_rows, cer_rows, hows = [], [], []
    for d in decode_dirs:
        name = d.name if len(exps) == 1 else f"{d.parent.name}/{d.name}"
        set_name = d.name[len("decode_"):].rsplit("_", 1)[0]
        w, c = table_rows(d / "results.md", name)
        wer_rows.append(w)
        cer_rows.append(c)
        hows.append(f"- `{name}`: {how(d, set_name)}")
    lines += ["", "## WER", "", HEADER, *wer_rows, "", "## CER", "", HEADER, *cer_rows, "",
              "## How each row was produced", "", *hows, ""]
    if stages:
        lines += ["## Wall time of each stage", ""]
        if header and timed_command != header[0][2:]:
            lines += [f"Of the run `{timed_command}` (the last that ran more than this stage).", ""]
        lines += ["|stage|seconds|", "|---|---|"]
        for (stage, t0), nxt in zip(stages, stages[1:] + [("", end)]):
            lines.append(f"|{stage}|{nxt[1] - t0 if nxt[1] is not None else '(this stage)'}|")
        total = (end or stages[-1][1]) - stages[0][1]
        lines += [f"|total|{total}{'' if end else ' (before this stage)'}|", ""]
    if notes:
        lines += ["## Notes", "", notes.read_text().strip(), ""]
    atomic_write_text(out, "\n".join(lines))
    return len(decode_dirs)


def scored_dirs(exp: Path) -> list[Path]:
    """The decode dirs of an exp dir that `asr score --out` filled: dev before test, then greedy, beam, lm."""
    order = {"greedy": 0, "beam": 1, "lm": 2}

    def key(d: Path):
        set_name, dec = d.name[len("decode_"):].rsplit("_", 1)
        return set_name != "dev", set_name, order.get(dec, 3), dec

    found = sorted((d for d in exp.glob("decode_*") if (d / "results.md").exists()), key=key)
    if not found:
        raise DataError(f"{exp}: no scored decode_* dirs (run the scoring stage first)")
    return found


def model_section(exps: list[Path]) -> list[str]:
    """The final model's settings (exp/model, else the first exp dir) and, for several, one line per system."""
    model_dir = Path("exp/model") if Path("exp/model").exists() else exps[0]
    config = yaml.safe_load((model_dir / "config.yaml").read_text()) if (model_dir / "config.yaml").exists() else {}
    lines = []
    if config:
        lines += [f"- {key}: `{json.dumps(config.get(key, {}))}`"
                  for key in ("model", "training", "augment", "features")]
        members = (config.get("ensemble") or {}).get("members") or []
        if members:  # asr.model.ensemble: model: and training: above are the first member's
            sources = ", ".join(f"`{m.get('source')}`" for m in members)
            how = ("sequence-level combination (N-best rescored by their mean CTC log-likelihood)"
                   if config["ensemble"].get("combine") == "sequence" else "posterior average")
            lines.append(f"- ensemble: the {how} of {len(members)} models (`model` and `training` "
                         f"above are the first's): {sources}")
        here = Path.cwd().resolve()
        lines.append(f"- model dir: `{model_dir}` -> `{model_dir.resolve().relative_to(here)}`"
                     if model_dir.resolve().is_relative_to(here) else f"- model dir: `{model_dir}`")
    if len(exps) > 1:
        lines += ["", "Systems compared (the first is the final one, `exp/model`):", ""]
        for exp in exps:
            kind = "bpe" if (exp / "bpe.model").exists() else "phone" if (exp / "lexicon.txt").exists() else "char"
            cfg = yaml.safe_load((exp / "config.yaml").read_text()) if (exp / "config.yaml").exists() else {}
            m = cfg.get("model", {})
            tokens = len((exp / "tokens.txt").read_text().splitlines()) if (exp / "tokens.txt").exists() else "?"
            lines.append(f"- `{exp}`: {kind} units ({tokens} tokens), {m.get('num_layers')} x {m.get('hidden_size')} "
                         f"{m.get('cell')}, cmn {m.get('cmn', 'global')}")
    return lines
