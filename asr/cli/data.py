"""`asr data ...`: validate, fix, subset, split, info, speed-perturb and combine Kaldi data dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asr.cli.common import app, command, fail

data_app = typer.Typer(help="Kaldi data directories: validate, fix, subset, split, info, perturb-speed, resample.",
                      no_args_is_help=True)
app.add_typer(data_app, name="data")


def _echo_faults(data_dir: Path, faults: list, what: str) -> None:
    """Print each fault, then a summary; exit 1 when there is any."""
    for f in faults:
        typer.echo(str(f))
    if faults:
        typer.echo(f"{data_dir}: {len(faults)} fault{'s' * (len(faults) != 1)}{what}")
        raise typer.Exit(1)


@command(data_app, "validate")
def data_validate_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir"),
    no_text: bool = typer.Option(False, "--no-text", help="text is optional (test data without transcripts)"),
):
    """Check a data dir against Kaldi's rules (utils/validate_data_dir.sh); exit 1 naming each fault."""
    from asr.data.kaldi_files import read_entries
    from asr.data.validate import validate_data_dir

    if not data_dir.is_dir():
        fail(f"{data_dir}: {'not a directory' if data_dir.exists() else 'no such directory'}")
    _echo_faults(data_dir, validate_data_dir(data_dir, need_text=not no_text), "")
    typer.echo(f"{data_dir}: OK, {len(read_entries(data_dir / 'utt2spk'))} utterances")


@command(data_app, "fix")
def data_fix_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir, fixed in place"),
    strict: bool = typer.Option(False, "--strict", help="change nothing and exit 1 if any utterance would go"),
):
    """Sort, de-duplicate and keep only complete utterances (utils/fix_data_dir.sh); originals go to .backup/.

    Each dropped utterance (and duplicate line) is listed with its reason in DATA_DIR/log/fix_report.txt."""
    from asr.data.fix import fix_and_report
    from asr.data.validate import validate_data_dir

    report, path = fix_and_report(data_dir, strict=strict)
    typer.echo(str(report) + (f"\nlist: {path}" if report.rejected else ""))
    _echo_faults(data_dir, validate_data_dir(data_dir, need_text=False), " left that fix cannot repair")


@command(data_app, "subset")
def data_subset_cmd(
    src: Path = typer.Argument(..., help="source data dir"),
    dst: Path = typer.Argument(..., help="new data dir"),
    first: Optional[int] = typer.Option(None, "--first", help="the first N utterances"),
    last: Optional[int] = typer.Option(None, "--last", help="the last N utterances"),
    shortest: Optional[int] = typer.Option(None, "--shortest", help="the N shortest utterances (needs utt2dur)"),
    random: Optional[int] = typer.Option(None, "--random", help="N utterances at random"),
    seed: int = typer.Option(0, "--seed", help="random seed for --random"),
    utt_list: Optional[Path] = typer.Option(None, "--utt-list", help="file whose first field is an utterance id"),
    spk_list: Optional[Path] = typer.Option(None, "--spk-list", help="file whose first field is a speaker id"),
):
    """Copy a subset of a data dir (utils/subset_data_dir.sh): give exactly one selection option."""
    from asr.data.subset import subset_data_dir

    counts = {"first": first, "last": last, "shortest": shortest, "random": random}
    chosen = [(how, n) for how, n in counts.items() if n is not None]
    if len(chosen) + (utt_list is not None) + (spk_list is not None) != 1:
        fail("give exactly one of --first, --last, --shortest, --random, --utt-list, --spk-list")
    how, n = chosen[0] if chosen else ("random", None)
    count = subset_data_dir(src, dst, n, how=how, utt_list=utt_list, spk_list=spk_list, seed=seed)
    typer.echo(f"{dst}: {count} utterances from {src}")


@command(data_app, "split")
def data_split_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir"),
    n: int = typer.Argument(..., help="number of parts"),
    per_utt: bool = typer.Option(False, "--per-utt", help="split by utterance, not keeping speakers whole"),
):
    """Split into DIR/split{N}/{1..N} (split{N}utt with --per-utt) like utils/split_data.sh; reuses a fresh split."""
    from asr.data.subset import split_data_dir

    parts = split_data_dir(data_dir, n, per_utt)
    typer.echo(f"{parts[0].parent}: {n} parts")


@command(data_app, "info")
def data_info_cmd(data_dir: Path = typer.Argument(..., help="Kaldi data dir")):
    """Counts of utterances, speakers, recordings, words; durations (from utt2dur); files present."""
    from asr.data.info import data_dir_info

    typer.echo(str(data_dir_info(data_dir)))


@command(data_app, "perturb-speed")
def data_perturb_speed_cmd(
    src: Path = typer.Argument(..., help="source data dir"),
    dst: Path = typer.Argument(..., help="new data dir: the copies at each speed, combined"),
    factors: str = typer.Option("0.9,1.0,1.1", "--factors", help="comma-separated speed factors"),
):
    """Speed-perturbed copies (`sp0.9-` ids, sox speed stage in wav.scp), as Kaldi's perturb_data_dir_speed_3way.sh."""
    from asr.data.perturb import perturb_speed

    try:
        values = [float(f) for f in factors.split(",")]
    except ValueError:
        fail(f"--factors: expected numbers separated by commas, got '{factors}'")
    perturb_speed(src, dst, values)
    typer.echo(f"{dst}: speeds {', '.join(f'{f:g}' for f in values)} of {src}")


@command(data_app, "resample")
def data_resample_cmd(
    src: Path = typer.Argument(..., help="source data dir"),
    dst: Path = typer.Argument(..., help="new data dir: the copy at RATE"),
    rate: int = typer.Option(8000, "--rate", help="sample rate in Hz of the copy", min=1),
):
    """A copy at another sample rate (`rate8000-` ids, sox rate stage in wav.scp): with features at the original
    rate, a narrowband copy of wideband speech, for mixed-bandwidth training."""
    from asr.data.perturb import resample_data_dir

    resample_data_dir(src, dst, rate)
    typer.echo(f"{dst}: {src} resampled to {rate} Hz")


@command(data_app, "combine")
def data_combine_cmd(
    out: Path = typer.Argument(..., help="new data dir"),
    dirs: list[str] = typer.Argument(..., help="data dirs; DIR:N repeats DIR N times (ids prefixed repK-)"),
    prefix: str = typer.Option("auto", "--prefix", help="auto: prefix every source's ids with its dir name when "
                                                        "an id clashes; always; never (a clash is an error)"),
):
    """Combine data dirs into one (utils/combine_data.sh): ids that clash get prefixes, none is dropped."""
    from asr.data.combine import combine_data_dirs

    typer.echo(str(combine_data_dirs(out, dirs, prefix)))
