"""`asr decode`: one data dir into one decode dir, or several sets with named decoders."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from asr.cli.common import app, command, fail, given_on_command_line
from asr.cli.decoder_options import DECODER_OPTIONS, decoder_options


@command(app, "decode")
@decoder_options
def decode_cmd(
    ctx: typer.Context,
    model_dir: Path = typer.Argument(..., help="model dir (or exp dir)"),
    dirs: List[Path] = typer.Argument(..., metavar="DATA_DIR OUT_DIR | DATA_DIR...",
                                      help="a data dir with feats.scp and its decode dir (gets `text` and "
                                           "`decode.yaml`); with --decoders, data dirs"),
    device: str = typer.Option("cpu", "--device"),
    decoder_config=None,
    tune_lm_weights: Optional[str] = typer.Option(None, "--tune-lm-weights",
                                                  help="lm: comma-separated grid, searched on DATA_DIR/text"),
    tune_word_scores: Optional[str] = typer.Option(None, "--tune-word-scores", help="lm: comma-separated grid"),
    decoders: Optional[str] = typer.Option(None, "--decoders", help="comma-separated decoder names (greedy, beam, "
                                           "lm, or one of --decode-config): each data dir with each, into "
                                           "EXP_DIR/decode_<set>_<name>"),
    exp_dir: Optional[Path] = typer.Option(None, "--exp-dir", help="with --decoders: where the decode dirs go"),
    decode_config: Optional[Path] = typer.Option(None, "--decode-config", help="with --decoders: YAML of named "
                                                 "decoders' options (e.g. conf/decode.yaml)"),
    override: List[str] = typer.Option([], "--set", help="with --decoders: override a decoder option: NAME.key=value"),
    tune_on: Optional[str] = typer.Option(None, "--tune-on", help="with --decoders: the set (a data dir's name) "
                                          "whose LM weight search the other sets use"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    num_threads: int = typer.Option(1, "--num-threads", help="torch threads (0: torch's default); the searches "
                                                             "are single-threaded, and a busy CPU punishes more"),
    nj: int = typer.Option(1, "--nj", help="parallel jobs (over DATA_DIR/split<NJ>utt)"),
    cmd: str = typer.Option("local", "--cmd", help="how jobs run: local or 'slurm \\[sbatch options]'; logs in "
                                                   "OUT_DIR/log/decode.JOB.log"),
):
    """CTC decoding of a data dir into a Kaldi `text` of hypotheses (greedy, prefix beam, or lexicon + LM).

    With --decoders: several data dirs, each with several named decoders (docs/transcribe.md)."""
    import torch

    from asr.device import check_device

    device = check_device(device)
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    if decoders is not None:
        single = [*DECODER_OPTIONS, "tune_lm_weights", "tune_word_scores"]
        given = [n for n in single if given_on_command_line(ctx, n)]
        if given:
            fail(f"--{given[0].replace('_', '-')}: with --decoders, set decoder options in --decode-config or with "
                 "--set NAME.key=value")
        if exp_dir is None:
            fail("--decoders needs --exp-dir (where the decode dirs go)")
        decode_sets_cmd(model_dir, dirs, exp_dir, decoders, decode_config, override, tune_on, nj, cmd, device,
                        progress)
        return
    for name, flag in (("exp_dir", "--exp-dir"), ("decode_config", "--decode-config"), ("override", "--set"),
                       ("tune_on", "--tune-on")):
        if given_on_command_line(ctx, name):
            fail(f"{flag}: only with --decoders")
    if len(dirs) != 2:
        fail("expected DATA_DIR OUT_DIR (several data dirs: --decoders NAME,... --exp-dir EXP)")
    decode_one_cmd(model_dir, *dirs, decoder_config, tune_lm_weights, tune_word_scores, nj, cmd, device, progress)


def decode_one_cmd(model_dir: Path, data_dir: Path, out_dir: Path, decoder_config, tune_lm_weights: Optional[str],
                   tune_word_scores: Optional[str], nj: int, cmd: str, device: str, progress: bool) -> None:
    """`asr decode MODEL DATA_DIR OUT_DIR`: one data dir with one decoder (a grid searched on its text)."""
    import dataclasses

    from asr.decoding.decode import decode_data_dir

    def floats(name, value):
        try:
            return [float(v) for v in value.split(",")] if value else []
        except ValueError:
            fail(f"{name}: expected numbers separated by commas, got '{value}'")

    config = dataclasses.replace(decoder_config, tune_lm_weights=floats("--tune-lm-weights", tune_lm_weights),
                                 tune_word_scores=floats("--tune-word-scores", tune_word_scores))
    if nj > 1 or cmd.split()[:1] != ["local"]:
        from asr.decoding.jobs import decode_in_jobs

        out = decode_in_jobs(model_dir, data_dir, out_dir, nj, cmd, device=device, config=config)
    else:
        out = decode_data_dir(model_dir, data_dir, out_dir, device=device, progress=progress, config=config)
    typer.echo(f"{out}: hypotheses ({config.decoder or 'the model decoder'})")



def decode_sets_cmd(model_dir: Path, data_dirs: List[Path], exp_dir: Path, decoders: str,
                    decode_config: Optional[Path], overrides: List[str], tune_on: Optional[str], nj: int, cmd: str,
                    device: str, progress: bool) -> None:
    """`asr decode DATA_DIR... --exp-dir EXP --decoders NAME,...` (asr.decoding.sets)."""
    from asr.decoding.config import read_decode_config
    from asr.decoding.sets import decode_sets

    named = read_decode_config(decode_config, overrides)
    names = [n for n in decoders.split(",") if n]
    for name, text in decode_sets(model_dir, data_dirs, exp_dir, names, named, tune_on, nj, cmd, device,
                                  progress, where=str(decode_config or "--decoders")):
        typer.echo(f"{text}: hypotheses ({name})")
