"""The `asr` command: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch) happen inside the commands so `asr --help` is instant. Errors from the library
(AsrError) are printed on one line and exit non-zero.
"""

from __future__ import annotations

import functools
import inspect
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


# ---- features, tokens ----------------------------------------------------------------------------------


@command(app, "feats")
def feats_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir with wav.scp"),
    conf: Optional[Path] = typer.Option(None, "--conf", help="YAML of Kaldi feature options (default: 80-dim fbank, 16 kHz)"),
    feat_dir: Optional[Path] = typer.Option(None, "--feat-dir", help="where the ark files go (default DATA_DIR/data)"),
    nj: int = typer.Option(1, "--nj", help="parallel jobs (over DATA_DIR/split<NJ>utt)"),
    cmd: str = typer.Option("local", "--cmd", help="how jobs run: local (process pool) or 'slurm [sbatch options]' "
                                                   "(a job array); logs in DATA_DIR/log/make_<kind>.JOB.log"),
    cmvn: bool = typer.Option(True, "--cmvn/--no-cmvn", help="also compute per-speaker CMVN stats (cmvn.scp)"),
    strict: bool = typer.Option(False, "--strict", help="stop on bad audio instead of dropping the utterance"),
    allow_resample: bool = typer.Option(False, "--allow-resample",
                                        help="resample audio at another rate (default: a bad utterance, as Kaldi)"),
):
    """Compute Kaldi fbank/MFCC features into feats.scp (+ ark) and CMVN stats into cmvn.scp.

    Utterances with bad audio are dropped and listed in DATA_DIR/log/feats_report.txt (--strict: exit 1)."""
    from asr.data.screen import read_report, report_path
    from asr.config import load_config
    from asr.features.extract import compute_cmvn_stats, make_feats
    from asr.features.kaldi import FeatureConfig

    config = FeatureConfig.from_dict(load_config(conf)) if conf else FeatureConfig()
    scp = make_feats(data_dir, config, feat_dir, nj=nj, strict=strict, allow_resample=allow_resample, cmd=cmd)
    report = read_report(report_path(data_dir, "feats"))
    typer.echo(report.summary() + (f" (see {report_path(data_dir, 'feats')})" if report.rejected else ""))
    typer.echo(f"{scp}: {config.kind} features, dim {config.dim}")
    if cmvn:
        typer.echo(f"{compute_cmvn_stats(data_dir, feat_dir)}: per-speaker CMVN stats")


@command(app, "tokens")
def tokens_cmd(
    data_dir: Path = typer.Argument(..., help="data dir whose `text` defines the units"),
    out: Path = typer.Option(..., "--out", help="tokens.txt to write (bpe.model / lexicon.txt go beside it)"),
    unit: str = typer.Option("char", "--unit", help="unit type: char, word, bpe (sentencepiece) or phone (lexicon)"),
    bpe_size: int = typer.Option(100, "--bpe-size", help="bpe: vocabulary size (an upper bound)"),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="phone: Kaldi lexicon.txt (WORD PH1 PH2 ...)"),
):
    """Write the output units (`<blank>` = 0, `<unk>`, `<space>`, then the units) as tokens.txt."""
    from asr.data.kaldi_files import read_table
    from asr.text.tokenizer import CharTokenizer

    texts = read_table(data_dir / "text").values()
    if unit == "char":
        tok = CharTokenizer.build(texts)
    elif unit == "word":
        from asr.text.tokenizer import WordTokenizer

        tok = WordTokenizer.build(texts)
    elif unit == "bpe":
        from asr.text.bpe import BPETokenizer

        tok = BPETokenizer.build(texts, bpe_size)
    elif unit == "phone":
        from asr.text.phone import PhoneTokenizer, read_lexicon

        if lexicon is None:
            fail("--unit phone needs --lexicon")
        tok = PhoneTokenizer.build(read_lexicon(lexicon))
        missing = sorted({w for t in texts for w in t.split()} - set(tok.lexicon))
        if missing:
            fail(f"{lexicon}: no pronunciation for {len(missing)} training word(s): {' '.join(missing[:10])}")
    else:
        fail(f"unknown unit '{unit}' (supported: char, word, bpe, phone)")
    if out.name != "tokens.txt":
        fail(f"--out must name a tokens.txt (its directory holds the units), got '{out}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in ("bpe.model", "lexicon.txt", "words.txt"):  # another kind's file would change how tokens.txt is read
        (out.parent / stale).unlink(missing_ok=True)
    tok.save_dir(out.parent)
    typer.echo(f"{out}: {len(tok)} {tok.kind} tokens")


@command(app, "lm")
def lm_cmd(
    text: Path = typer.Argument(..., help="training text, one sentence a line (e.g. data/local/lm_train.txt)"),
    out: Path = typer.Option(..., "--out", help="ARPA file to write"),
    order: int = typer.Option(3, "--order", help="n-gram order"),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="add its words to the vocabulary (as unseen)"),
):
    """Estimate an interpolated modified Kneser-Ney word n-gram LM and write it as ARPA."""
    from asr.decoding.lm import read_words
    from asr.decoding.ngram import build_arpa

    build_arpa(text, out, order, read_words(lexicon) if lexicon else ())
    typer.echo(f"{out}: {order}-gram ARPA")


# ---- training, decoding, scoring -----------------------------------------------------------------------

DECODER_OPTIONS = {  # name: (type, option): the decoder options of `asr decode` and `asr transcribe`
    "decoder": (Optional[str], typer.Option(None, "--decoder", help="greedy, beam (CTC prefix search) or lm "
                                                                    "(lexicon + word n-gram) (default: the model's "
                                                                    "decoding.yaml, else greedy)")),
    "beam_size": (Optional[int], typer.Option(None, "--beam-size", help="beam: prefixes kept; lm: the search beam "
                                                                        "(default: the model's, else 10)")),
    "lm": (Optional[Path], typer.Option(None, "--lm", help="lm: ARPA word n-gram (default: the model's)")),
    "lexicon": (Optional[Path], typer.Option(None, "--lexicon", help="lm: the vocabulary, first field per line "
                                                                     "(default: the model's)")),
    "lm_weight": (Optional[float], typer.Option(None, "--lm-weight", help="lm: weight of the LM (default: "
                                                                          "--lm-params', the model's, or 1)")),
    "word_score": (Optional[float], typer.Option(None, "--word-score", help="lm: added per word (default: "
                                                                            "--lm-params', the model's, or 0)")),
    "lm_params": (Optional[Path], typer.Option(None, "--lm-params", help="lm: lm_params.yaml of a dev search "
                                                                         "(asr decode --tune-lm-weights)")),
    "units": (bool, typer.Option(False, "--units", help="the model's units (e.g. phones) rather than words: "
                                                        "greedy unless --decoder says otherwise")),
}


def decoder_options(fn):
    """Give a command the decoder options (DECODER_OPTIONS), declared once here, in place of its parameter
    `decoder_config`, which receives them as one asr.decoding.config.DecoderConfig."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    at = [p.name for p in params].index("decoder_config")
    added = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option, annotation=kind)
             for name, (kind, option) in DECODER_OPTIONS.items()]

    @functools.wraps(fn)
    def wrapper(**kwargs):
        from asr.decoding.config import DecoderConfig

        values = {name: kwargs.pop(name) for name in DECODER_OPTIONS}
        paths = {k: str(v) for k, v in values.items() if isinstance(v, Path)}
        return fn(**kwargs, decoder_config=DecoderConfig(**{**values, **paths}))

    wrapper.__signature__ = signature.replace(parameters=params[:at] + added + params[at + 1:])
    wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "decoder_config"},
                               **{name: kind for name, (kind, _) in DECODER_OPTIONS.items()}}
    return wrapper


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
    cmd: str = typer.Option("local", "--cmd", help="how jobs run: local or 'slurm [sbatch options]'; logs in "
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


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was given (not left at its default)."""
    return ctx.get_parameter_source(name).name != "DEFAULT"  # typer vendors click: compare the enum by name


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


# ---- transcribe -----------------------------------------------------------------------------------------


@command(app, "transcribe")
@decoder_options
def transcribe_cmd(
    model: str = typer.Argument(..., help="model dir (e.g. egs/yesno/exp/model) or model file from `asr export`"),
    audio: List[str] = typer.Argument(..., help="audio files (wav, flac, ogg, mp3, ...; any rate, any channels), "
                                                "folders, `-` (stdin), a Kaldi wav.scp (*.scp), a list (*.list)"),
    fmt: str = typer.Option("text", "--format", "-f", help="text, json, ctm, srt or vtt (several, comma-separated, "
                                                         "with --output-dir)"),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="write <name>.<ext> per recording"),
    decoder_config=None,
    chunk: float = typer.Option(30.0, "--chunk", help="long audio: window length in seconds"),
    overlap: float = typer.Option(5.0, "--overlap", help="long audio: overlap of neighbouring windows, seconds"),
    batch_size: int = typer.Option(4, "--batch-size", help="windows per forward pass"),
    threads: int = typer.Option(0, "--threads", help="CPU threads (0: torch's default)"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when present)"),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="folders: include sub-folders"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="default: on a terminal, for "
                                                                                   "many or long recordings"),
    word_times: str = typer.Option("speech", "--word-times", help="speech: CTC word times snapped to the speech "
                                                                   "in the audio; ctc: where tokens were emitted"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print each recording's real-time factor"),
):
    """Transcribe audio; by default print `<file>\t<text>` per recording. Exit 1 if any recording failed."""
    import torch

    from asr.device import check_device
    from asr.transcribe import Transcriber
    from asr.transcribe.chunking import ChunkConfig
    from asr.transcribe.command import parse_formats, run_transcribe
    from asr.transcribe.inputs import expand_inputs

    device = check_device(device)
    if threads > 0:
        torch.set_num_threads(threads)
    inputs = expand_inputs(audio, recursive)
    out = parse_formats(fmt, output_dir, len(inputs))
    transcriber = Transcriber.from_pretrained(model, device, decoder=decoder_config,
                                              chunk=ChunkConfig(chunk, overlap), batch_size=batch_size,
                                              word_times=word_times)
    if run_transcribe(transcriber, inputs, out, progress, verbose):
        raise typer.Exit(1)


@command(app, "export")
def export_cmd(
    model_dir: Path = typer.Argument(..., help="model dir or exp dir (config.yaml, tokens.txt, model.pt)"),
    out: Path = typer.Argument(..., help="the model file to write, e.g. model.asr"),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="pack a lexicon for --decoder lm"),
    lm: Optional[Path] = typer.Option(None, "--lm", help="pack a language model (ARPA) for --decoder lm"),
    lm_params: Optional[Path] = typer.Option(None, "--lm-params", help="pack the LM weights of a dev search "
                                                                       "(lm_params.yaml)"),
):
    """Pack a model into one file (weights, config, units, CMVN, feature settings[, lexicon, LM, LM weights])."""
    from asr.export.package import export_model

    path = export_model(model_dir, out, lexicon, lm, lm_params)
    typer.echo(f"{path}: {path.stat().st_size / 1e6:.1f} MB, from {model_dir}")


# ---- the model as a product ----------------------------------------------------------------------------

model_app = typer.Typer(help="A model dir's default decoder.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@command(model_app, "set-decoder")
def model_set_decoder_cmd(
    model_dir: Path = typer.Argument(..., help="the model dir (e.g. exp/model)"),
    decode_dirs: List[Path] = typer.Argument(..., help="scored decode dirs (decode.yaml, scores.txt) of its "
                                                       "decoders"),
    on: Optional[str] = typer.Option(None, "--on", help="the set (data dir name) to choose on: dev"),
):
    """Record in MODEL_DIR the decoder with the lowest WER on --on, with its files and weights (decoding.yaml)."""
    from asr.decoding.best import set_decoder

    chosen = set_decoder(model_dir, decode_dirs, on)
    how = f", chosen on {chosen['chosen_on']}: {chosen['wer']}" if chosen.get("chosen_on") else " (the only one)"
    typer.echo(f"{model_dir / 'decoding.yaml'}: {chosen['name']} ({chosen['decoder']}){how}")


@command(app, "info")
def info_cmd(
    model: Path = typer.Argument(..., help="model dir or `.asr` model file"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the card here (e.g. MODEL/README.md), not to stdout"),
    run_log: Optional[Path] = typer.Option(None, "--run-log", help="the recipe's exp/log/run.log: its last run's "
                                           "command and git hash go on the card"),
):
    """The model card: units, vocabulary, features, parameters, training data, its decoder and WER."""
    from asr.export.card import model_card

    card = model_card(model, run_log)
    if out is None:
        typer.echo(card, nl=False)
        return
    from asr.fileio import atomic_write_text

    atomic_write_text(out, card)
    typer.echo(f"{out}: the model card")


# ---- inspect --------------------------------------------------------------------------------------------

inspect_app = typer.Typer(help="Look inside a trained model.", no_args_is_help=True)
app.add_typer(inspect_app, name="inspect")


@command(inspect_app, "gates")
def inspect_gates_cmd(
    model_dir: Path = typer.Argument(..., help="model dir, e.g. egs/an4/exp/model"),
    audio: Path = typer.Argument(..., help="one audio file"),
    out: Path = typer.Option(Path("gates.png"), "--out", help="PNG to write."),
    layer: int = typer.Option(0, "--layer", help="Encoder layer, 0-based."),
):
    """Plot one utterance's spectrogram above a layer's forget, input and output gates and cell-state norm."""
    from asr.model.inspect import plot_gates
    from asr.transcribe import Transcriber

    transcriber = Transcriber.from_pretrained(model_dir, "cpu")
    feats = transcriber.features(str(audio))
    plot_gates(transcriber.loaded.model, feats, layer, out,
               frame_shift_s=transcriber.loaded.features.frame_shift_ms / 1000.0, title=f"{audio.name}: "
               f"{transcriber.loaded.model.config.cell} encoder, layer {layer}")
    typer.echo(f"wrote {out}")


if __name__ == "__main__":
    app()
