"""`asr train`, `asr average` and `asr ensemble`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from asr.cli.common import app, command


@command(app, "train")
def train_cmd(
    config: Path = typer.Option(..., "--config", help="YAML with model:, training: and augment: sections (e.g. "
                                                      "egs/yesno/conf/train.yaml); unknown keys are errors"),
    train_dir: Path = typer.Option(..., "--train-dir", help="training data dir with feats.scp, feats.yaml, text"),
    dev_dir: Path = typer.Option(..., "--dev-dir", help="dev data dir (same features), evaluated each epoch"),
    tokens: Path = typer.Option(..., "--tokens", help="the units: tokens.txt from `asr tokens`"),
    exp_dir: Path = typer.Option(..., "--exp-dir", help="the exp dir to make (or resume), a model dir when done"),
    override: List[str] = typer.Option([], "--set", help="override a config value: section.key=value (e.g. "
                                                        "training.lr=0.002); repeatable"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda (or gpu), cuda:1 (default: cuda when "
                                                                "present)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="a progress bar and a line per epoch"),
    force: bool = typer.Option(False, "--force", help="resume even though the config or data list changed"),
    strict: bool = typer.Option(False, "--strict", help="stop on an utterance training cannot use (else dropped)"),
    log_batches: bool = typer.Option(False, "--log-batches", envvar="ASR_LOG_BATCHES",
                                     help="each rank lists its batches in EXP_DIR/log/batches.rank<R>.txt"),
):
    """Train a BiLSTM-CTC model; the exp dir becomes a model dir (config.yaml, tokens.txt, model.pt).

    Re-running the same command resumes from the newest good checkpoint (EXP_DIR/checkpoints/); SIGINT or
    SIGTERM save one and exit (130/143). Dropped utterances are listed in EXP_DIR/log/{train,dev}_report.txt.
    Under `torchrun --nproc-per-node N -m asr.cli train ...`: data-parallel over N processes (docs/scaling.md)."""
    import os

    from asr.config import apply_overrides, load_config
    from asr.training.stop import TrainingInterrupted
    from asr.training.trainer import train

    cfg = apply_overrides(load_config(config), override)
    try:
        out = train(cfg, train_dir, dev_dir, tokens, exp_dir, device=device, progress=progress, force=force,
                    strict=strict, log_batches=log_batches)
    except TrainingInterrupted as e:
        typer.echo(f"asr train: {e}", err=True)
        raise typer.Exit(128 + e.signum)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for all
        typer.echo(f"{out}: trained")



@command(app, "average")
def average_cmd(
    exp_dir: Path = typer.Argument(..., help="training exp dir with checkpoints/epoch*.pt"),
    out_dir: Path = typer.Argument(..., help="new model dir"),
    num: int = typer.Option(5, "--num", help="how many epochs"),
    by: str = typer.Option("best", "--by", help="best (by dev --metric) or last"),
    metric: str = typer.Option("loss", "--metric", help="dev loss, cer or wer"),
):
    """Average the weights of the N best or last epochs into a model dir (checkpoint averaging)."""
    from asr.training.average import average_exp_dir

    out, epochs = average_exp_dir(exp_dir, out_dir, num, by, metric)
    typer.echo(f"{out}: average of epochs {' '.join(map(str, epochs))}")


@command(app, "ensemble")
def ensemble_cmd(
    model_dirs: List[Path] = typer.Argument(..., help="two or more model dirs with the same units and features "
                                                      "(e.g. exp/<tag>/seed1/ave_5 exp/<tag>/seed4/ave_5)"),
    out: Path = typer.Option(..., "--out", help="the ensemble's model dir"),
    combine: str = typer.Option("posterior", "--combine", help="posterior: the mean of each frame's posteriors; "
                                "sequence: the lexicon + LM decoder ranks the members' pooled N-best lists by the "
                                "mean of their CTC log-likelihoods (no shared alignment needed)"),
):
    """Combine models into one (models from different seeds make different errors; asr.model.ensemble)."""
    from asr.model.ensemble import build_ensemble

    what = "posterior average" if combine == "posterior" else "sequence-level combination"
    typer.echo(f"{build_ensemble(model_dirs, out, combine)}: {what} of {len(model_dirs)} models")
