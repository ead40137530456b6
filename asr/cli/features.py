"""`asr feats`, `asr tokens`, `asr lm`: features + CMVN, the token inventory, the n-gram LM."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asr.cli.common import app, command, fail


@command(app, "feats")
def feats_cmd(
    data_dir: Path = typer.Argument(..., help="Kaldi data dir with wav.scp"),
    conf: Optional[Path] = typer.Option(None, "--conf", help="YAML of Kaldi feature options (default: 80-dim fbank, 16 kHz)"),
    feat_dir: Optional[Path] = typer.Option(None, "--feat-dir", help="where the ark files go (default DATA_DIR/data)"),
    nj: int = typer.Option(1, "--nj", help="parallel jobs (over DATA_DIR/split<NJ>utt)"),
    cmd: str = typer.Option("local", "--cmd", help="how jobs run: local (process pool) or 'slurm \\[sbatch options]' "
                                                   "(a job array); logs in DATA_DIR/log/make_<kind>.JOB.log"),
    cmvn: bool = typer.Option(True, "--cmvn/--no-cmvn", help="also compute per-speaker CMVN stats (cmvn.scp)"),
    strict: bool = typer.Option(False, "--strict", help="stop on bad audio instead of dropping the utterance"),
    resample: bool = typer.Option(True, "--resample/--no-resample",
                                  help="resample audio at another rate than the config's (--no-resample: such "
                                       "audio is a bad utterance, as Kaldi's compute-fbank-feats)"),
):
    """Compute Kaldi fbank/MFCC features into feats.scp (+ ark) and CMVN stats into cmvn.scp.

    Recordings at another sample rate are resampled and mixed down to mono, and the command says how many (also in
    DATA_DIR/log/feats_audio.txt; upsampling is a warning). Utterances with bad audio are dropped and listed in
    DATA_DIR/log/feats_report.txt (--strict: exit 1)."""
    from asr.config import load_config
    from asr.data.screen import read_report, report_path
    from asr.features.extract import AUDIO_NOTES, WARNING, compute_cmvn_stats, make_feats
    from asr.features.kaldi import FeatureConfig

    config = FeatureConfig.from_dict(load_config(conf)) if conf else FeatureConfig()
    scp = make_feats(data_dir, config, feat_dir, nj=nj, strict=strict, resample=resample, cmd=cmd)
    for note in (data_dir / "log" / AUDIO_NOTES).read_text().splitlines():
        if note.startswith(WARNING):
            typer.echo(f"asr: {note} ({data_dir})", err=True)
        else:
            typer.echo(f"{data_dir}: {note}")
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
