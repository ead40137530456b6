"""The `asr` command: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch) happen inside the commands so `asr --help` is instant. Errors from the library
(AsrError) are printed on one line and exit non-zero.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from asr.errors import AsrError

app = typer.Typer(help="lstm-asr: Kaldi-style speech recognition with BiLSTM-CTC.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Kaldi data directories: validate, fix, subset, split, info.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"asr: error: {message}", err=True)
    raise typer.Exit(code)


def command(typer_app: typer.Typer, *args, **kwargs):
    """Register a command whose AsrError becomes a one-line message and exit code 1."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except AsrError as e:
                fail(str(e))

        return typer_app.command(*args, **kwargs)(wrapper)

    return decorate


# ---- data directories -------------------------------------------------------------------------------------


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

    _echo_faults(data_dir, validate_data_dir(data_dir, need_text=not no_text), "")
    typer.echo(f"{data_dir}: OK, {len(read_entries(data_dir / 'utt2spk'))} utterances")


@command(data_app, "fix")
def data_fix_cmd(data_dir: Path = typer.Argument(..., help="Kaldi data dir, fixed in place")):
    """Sort, de-duplicate and keep only complete utterances (utils/fix_data_dir.sh); originals go to .backup/."""
    from asr.data.fix import fix_data_dir
    from asr.data.validate import validate_data_dir

    typer.echo(str(fix_data_dir(data_dir)))
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


# ---- features, tokens ----------------------------------------------------------------------------------


def load_yaml(path: Path) -> dict:
    import yaml

    from asr.errors import ConfigError

    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None


def apply_overrides(config: dict, overrides: List[str]) -> dict:
    """`section.key=value` pairs (value parsed as YAML) on top of a config dict."""
    import yaml

    from asr.errors import ConfigError

    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"override '{item}': expected section.key=value")
        node = config
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return config


@command(app, "feats")
def feats_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir with wav.scp"),
    conf: Optional[Path] = typer.Option(None, "--conf", help="YAML of Kaldi feature options (default: 80-dim fbank, 16 kHz)"),
    feat_dir: Optional[Path] = typer.Option(None, "--feat-dir", help="where the ark files go (default DATA_DIR/data)"),
    nj: int = typer.Option(1, "--nj", help="parallel jobs"),
    cmvn: bool = typer.Option(True, "--cmvn/--no-cmvn", help="also compute per-speaker CMVN stats (cmvn.scp)"),
):
    """Compute Kaldi fbank/MFCC features into feats.scp (+ ark) and CMVN stats into cmvn.scp."""
    from asr.features.extract import compute_cmvn_stats, make_feats
    from asr.features.kaldi import FeatureConfig

    config = FeatureConfig.from_dict(load_yaml(conf)) if conf else FeatureConfig()
    scp = make_feats(data_dir, config, feat_dir, nj=nj)
    typer.echo(f"{scp}: {config.kind} features, dim {config.dim}")
    if cmvn:
        typer.echo(f"{compute_cmvn_stats(data_dir, feat_dir)}: per-speaker CMVN stats")


@command(app, "tokens")
def tokens_cmd(
    data_dir: Path = typer.Argument(..., help="data dir whose `text` defines the units"),
    out: Path = typer.Option(..., "--out", help="tokens.txt to write"),
    unit: str = typer.Option("char", "--unit", help="unit type: char"),
):
    """Write the output units (`<blank>` = 0, `<unk>`, `<space>`, then characters) as tokens.txt."""
    from asr.data.kaldi_files import read_table
    from asr.text.tokenizer import CharTokenizer

    if unit != "char":
        fail(f"unknown unit '{unit}' (supported: char)")
    tok = CharTokenizer.build(read_table(data_dir / "text").values())
    tok.save(out)
    typer.echo(f"{out}: {len(tok)} tokens")


# ---- training, decoding, scoring -----------------------------------------------------------------------


@command(app, "train")
def train_cmd(
    config: Path = typer.Option(..., "--config", help="YAML with model: and training: sections"),
    train_dir: Path = typer.Option(..., "--train-dir"),
    dev_dir: Path = typer.Option(..., "--dev-dir"),
    tokens: Path = typer.Option(..., "--tokens"),
    exp_dir: Path = typer.Option(..., "--exp-dir"),
    override: List[str] = typer.Option([], "--set", help="override a config value: section.key=value"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when present)"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
):
    """Train a BiLSTM-CTC model; the exp dir becomes a model dir (config.yaml, tokens.txt, model.pt)."""
    from asr.training.trainer import train

    cfg = apply_overrides(load_yaml(config), override)
    out = train(cfg, train_dir, dev_dir, tokens, exp_dir, device=device, progress=progress)
    typer.echo(f"{out}: trained")


@command(app, "decode")
def decode_cmd(
    model_dir: Path = typer.Argument(..., help="model dir (or exp dir)"),
    data_dir: Path = typer.Argument(..., help="data dir with feats.scp"),
    out_dir: Path = typer.Argument(..., help="decode dir; gets `text`"),
    device: str = typer.Option("cpu", "--device"),
):
    """Greedy CTC decoding of a data dir into a Kaldi `text` of hypotheses."""
    from asr.decoding.decode import decode_data_dir

    typer.echo(f"{decode_data_dir(model_dir, data_dir, out_dir, device=device)}: hypotheses")


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


# ---- transcribe -----------------------------------------------------------------------------------------


@command(app, "transcribe")
def transcribe_cmd(
    model_dir: Path = typer.Argument(..., help="model dir, e.g. egs/yesno/exp/model"),
    audio: List[str] = typer.Argument(..., help="audio files (wav, flac, ogg, ...)"),
    device: Optional[str] = typer.Option(None, "--device"),
):
    """Print `<file>\t<text>` for each audio file."""
    from asr.errors import AudioError
    from asr.transcribe import Transcriber

    transcriber = Transcriber.from_pretrained(model_dir, device)
    failed = 0
    for path in audio:
        try:
            typer.echo(f"{path}\t{transcriber.transcribe(path)}")
        except AudioError as e:
            typer.echo(f"asr: error: {e}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
