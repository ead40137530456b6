"""`asr score`, `asr compare`, `asr results`: WER reports."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from asr.cli.common import app, command


@command(app, "score")
def score_cmd(
    ref: Path = typer.Argument(..., help="Reference: Kaldi `text` (uttid words...) or sclite trn (words... (uttid))."),
    hyp: Path = typer.Argument(..., help="Hypothesis, same forms as REF."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write %WER line, per_utt, per_spk, ops, results.md, "
                                                           "report.json and report.html here."),
    utt2spk: Optional[Path] = typer.Option(None, "--utt2spk", help="Speakers (default: the id up to '-' or '_')."),
    mode: str = typer.Option("all", help="Utterances missing from HYP: all (count as empty), present (skip), "
                                         "strict (error). As Kaldi's compute-wer --mode."),
    case: str = typer.Option("keep", help="Case normalisation: keep, lower or upper."),
    remove_punct: bool = typer.Option(False, "--remove-punct", help="Strip punctuation from words."),
    drop: List[str] = typer.Option([], "--drop", help="Token to remove before scoring (repeatable); replaces "
                                                      "the default list (<sil> !SIL <eps>); `--drop none`: keep all."),
    drop_hesitations: bool = typer.Option(False, "--drop-hesitations", help="Remove hesitations (uh, um, ...)."),
    name: Optional[str] = typer.Option(None, "--name", help="Set name in results.md (default: HYP's directory)."),
):
    """Score HYP against REF: Kaldi %WER/%CER/%SER lines, and with --out the full report."""
    from asr.scoring.normalize import Normalization
    from asr.scoring.report import score_files, write_report

    drop_list = [] if drop == ["none"] else (drop or None)
    norm = Normalization.make(case=case, remove_punct=remove_punct, drop=drop_list, drop_hesitations=drop_hesitations)
    if out is None:
        report = score_files(ref, hyp, utt2spk=utt2spk, normalization=norm, mode=mode, name=name)
    else:
        report = write_report(ref, hyp, out, utt2spk=utt2spk, normalization=norm, mode=mode, name=name)
    typer.echo("\n".join(report.kaldi_lines()))
    for warning in report.warnings():
        typer.echo(f"asr score: warning: {warning}", err=True)
    if out is not None:
        typer.echo(f"report: {out / 'report.html'}")


@command(app, "compare")
def compare_cmd(
    inputs: List[Path] = typer.Argument(..., help="A.json B.json (two report.json files), or REF HYP_A HYP_B."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write compare.txt, compare.json and compare.html here."),
    utt2spk: Optional[Path] = typer.Option(None, "--utt2spk", help="Speakers, when scoring REF HYP_A HYP_B."),
    samples: int = typer.Option(10000, help="Bootstrap replications (Kaldi compute-wer-bootci default)."),
    seed: int = typer.Option(0, help="Random seed of the bootstrap."),
):
    """Is system B better than A? Paired bootstrap (as compute-wer-bootci), per speaker and per utterance."""
    from asr.scoring.compare import compare_inputs

    comparison = compare_inputs(inputs, out_dir=out, utt2spk=utt2spk, samples=samples, seed=seed)
    typer.echo(comparison.text())
    if out is not None:
        typer.echo(f"report: {out / 'compare.html'}")


@command(app, "results")
def results_cmd(
    exp: List[Path] = typer.Option(..., "--exp", help="exp dir whose scored decode dirs give the rows (repeat to "
                                                      "compare systems; the first is the final)"),
    run_log: Path = typer.Option(..., "--run-log", help="the recipe's exp/log/run.log (stage wall times)"),
    out: Path = typer.Option(..., "--out", help="the Markdown file to write (RESULTS.md)"),
    title: str = typer.Option("Results", "--title"),
    notes: Optional[Path] = typer.Option(None, "--notes", help="Markdown to include under `## Notes` (e.g. how "
                                                                "the run differs)"),
):
    """A recipe's RESULTS.md (ESPnet's form): environment, model, WER and CER tables, stage wall times."""
    from asr.scoring.results import write_results

    typer.echo(f"{out}: {write_results(exp, run_log, out, title, notes)} decode dirs")
