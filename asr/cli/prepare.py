"""`asr prepare ...`: a user's corpus (folder, manifest, Common Voice, LJSpeech, a data dir) or a known corpus
-> validated Kaldi data dirs; `asr data from-lhotse / to-lhotse`. The readers are in data_prep/ (docs/data.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asr.cli.common import app, command
from asr.cli.data import data_app

prepare_app = typer.Typer(help="Your corpus -> Kaldi data dirs: folders, manifests, Common Voice, LJSpeech, "
                               "known corpora (docs/data.md).", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")

CASE = typer.Option("upper", "--case", help="transcript case: upper (as Kaldi/ESPnet recipes), lower or keep")
STRICT = typer.Option(False, "--strict", help="stop at the first bad row or file (exit 1) instead of listing it")
TEXT_COL = typer.Option(None, "--text-column", help="the transcript's column (default: found by name)")
PATH_COL = typer.Option(None, "--path-column", help="the audio path's column (default: found by name)")
SPK_COL = typer.Option(None, "--speaker-column", help="the speaker's column (default: found by name)")
SPEAKER_FROM = typer.Option("parent", "--speaker-from",
                            help="folder: speaker = parent (folder name), level:N, utt, or regex:PATTERN")
SPLITS = typer.Option(None, "--splits", help="Common Voice splits, comma-separated (default: train,dev,test present)")
NJ = typer.Option(1, "--nj", help="processes that open and check the audio files")


def _columns(text, path, speaker):
    from data_prep.manifest import Columns

    return Columns(text=text, path=path, speaker=speaker)


def _echo(reports: dict) -> None:
    """One summary line per data dir written."""
    for out, r in reports.items():
        typer.echo(r.summary(out) + (f" (list: {Path(out) / 'log' / 'prepare_report.txt'})" if r.problems else ""))


@command(prepare_app, "folder")
def prepare_folder_cmd(folder: Path = typer.Argument(..., help="folder of audio files with x.txt/x.lab transcripts"),
                       out: Path = typer.Argument(..., help="data dir to write"), case: str = CASE,
                       strict: bool = STRICT, speaker_from: str = SPEAKER_FROM, text_column: Optional[str] = TEXT_COL,
                       path_column: Optional[str] = PATH_COL, speaker_column: Optional[str] = SPK_COL, nj: int = NJ):
    """Audio files (any format libsndfile reads) with a transcript beside each, or one transcripts.tsv/metadata.csv."""
    from data_prep import folder as prep

    _echo({out: prep.prepare(folder, out, case, strict, speaker_from,
                             _columns(text_column, path_column, speaker_column), nj)})


@command(prepare_app, "manifest")
def prepare_manifest_cmd(manifest: Path = typer.Argument(..., help="CSV/TSV with a header, or JSON lines"),
                         out: Path = typer.Argument(..., help="data dir to write"), case: str = CASE,
                         strict: bool = STRICT, text_column: Optional[str] = TEXT_COL,
                         path_column: Optional[str] = PATH_COL, speaker_column: Optional[str] = SPK_COL,
                         nj: int = NJ):
    """A CSV/TSV/JSON-lines manifest (audio paths relative to it); columns found by name."""
    from data_prep import manifest as prep

    _echo({out: prep.prepare(manifest, out, case, strict, _columns(text_column, path_column, speaker_column), nj)})


@command(prepare_app, "commonvoice")
def prepare_commonvoice_cmd(release: Path = typer.Argument(..., help="Common Voice folder: *.tsv and clips/"),
                            out: Path = typer.Argument(..., help="folder for one data dir per split (OUT/<split>)"),
                            splits: Optional[str] = SPLITS, case: str = CASE, strict: bool = STRICT,
                            text_column: Optional[str] = TEXT_COL, nj: int = NJ):
    """A Common Voice release: OUT/<split>/ for each of train, dev, test (or --splits) present."""
    from data_prep import commonvoice as prep

    reports = prep.prepare(release, out, splits.split(",") if splits else None, case, strict,
                           _columns(text_column, None, None), nj)
    _echo({out / s: r for s, r in reports.items()})


@command(prepare_app, "ljspeech")
def prepare_ljspeech_cmd(folder: Path = typer.Argument(..., help="folder with metadata.csv and wavs/"),
                         out: Path = typer.Argument(..., help="data dir to write"), case: str = CASE,
                         strict: bool = STRICT, nj: int = NJ):
    """LJSpeech layout: metadata.csv (id|text|normalized text), wavs/<id>.wav."""
    from data_prep import ljspeech as prep

    _echo({out: prep.prepare(folder, out, case, strict, nj=nj)})


@command(prepare_app, "auto")
def prepare_auto_cmd(src: Path = typer.Argument(..., help="a data dir, Common Voice release or split TSV, LJSpeech "
                                                          "folder, folder of recordings, or manifest"),
                     out: Path = typer.Argument(..., help="data dir to write (a Common Voice release: OUT/<split>)"),
                     case: str = CASE, strict: bool = STRICT, speaker_from: str = SPEAKER_FROM,
                     splits: Optional[str] = SPLITS, text_column: Optional[str] = TEXT_COL,
                     path_column: Optional[str] = PATH_COL, speaker_column: Optional[str] = SPK_COL,
                     nj: int = NJ):
    """Whatever SRC is (found from its layout), prepared as such."""
    from data_prep import auto

    _echo(auto.prepare(src, out, case, strict, speaker_from=speaker_from,
                       splits=splits.split(",") if splits else None,
                       columns=_columns(text_column, path_column, speaker_column), nj=nj))


CORPUS_DIR = typer.Option(None, "--corpus-dir", help="corpus root (default: $ASR_CORPORA/<name>, else download)")
DOWNLOAD_DIR = typer.Option(Path("downloads"), "--download-dir", help="where a downloaded corpus goes")
DATA_DIR = typer.Argument(Path("data"), help="where its data dirs go")


def _known(name: str, data_dir: Path, corpus_dir: Optional[Path], download_dir: Path, **kw) -> None:
    import importlib

    from data_prep.common import find_corpus

    mod = importlib.import_module(f"data_prep.{name}")
    marker, unpacks = {"yesno": ("waves_yesno", ""), "an4": ("etc/an4_train.transcription", "an4"),
                       "fsdd": ("recordings", "free-spoken-digit-dataset-1.0.9")}[name]
    corpus = find_corpus(name, corpus_dir, marker, mod.URL, download_dir, unpacks)
    for what, path in mod.prepare(corpus, data_dir, **kw).items():
        report = Path(path) / "log" / "prepare_report.txt"
        lines = report.read_text(encoding="utf-8").splitlines() if report.is_file() else []
        typer.echo(lines[0][2:] + (f" (list: {report})" if len(lines) > 1 else "") if lines else f"{what}: {path}")


@command(prepare_app, "yesno")
def prepare_yesno_cmd(data_dir: Path = DATA_DIR, corpus_dir: Optional[Path] = CORPUS_DIR,
                      download_dir: Path = DOWNLOAD_DIR, strict: bool = STRICT):
    """Kaldi's yes/no corpus -> DATA_DIR/{train_yesno,test_yesno} (data_prep/yesno.py)."""
    _known("yesno", data_dir, corpus_dir, download_dir, strict=strict)


@command(prepare_app, "an4")
def prepare_an4_cmd(data_dir: Path = DATA_DIR, corpus_dir: Optional[Path] = CORPUS_DIR,
                      download_dir: Path = DOWNLOAD_DIR, strict: bool = STRICT):
    """CMU AN4 -> DATA_DIR/{train,dev,test}, LM text and lexicon (data_prep/an4.py)."""
    _known("an4", data_dir, corpus_dir, download_dir, strict=strict)


@command(prepare_app, "fsdd")
def prepare_fsdd_cmd(data_dir: Path = DATA_DIR, corpus_dir: Optional[Path] = CORPUS_DIR,
                     download_dir: Path = DOWNLOAD_DIR,
                     dev_speaker: str = typer.Option("yweweler", "--dev-speaker", help="the speaker held out as dev"),
                     strict: bool = STRICT):
    """Free Spoken Digit Dataset -> DATA_DIR/{train,dev[,test]} (data_prep/fsdd.py)."""
    _known("fsdd", data_dir, corpus_dir, download_dir, dev_speaker=dev_speaker, strict=strict)


@command(prepare_app, "librispeech")
def prepare_librispeech_cmd(data_dir: Path = DATA_DIR, corpus_dir: Optional[Path] = CORPUS_DIR,
                            download_dir: Path = DOWNLOAD_DIR,
                            subsets: str = typer.Option("dev-clean,test-clean", "--subsets",
                                                        help="comma-separated, e.g. train-clean-100,dev-clean"),
                            strict: bool = STRICT):
    """LibriSpeech subsets -> DATA_DIR/<subset with _> (data_prep/librispeech.py)."""
    from data_prep import librispeech
    from data_prep.common import find_corpus

    by_root: dict[Path, list[str]] = {}
    for s in subsets.split(","):
        root = find_corpus("librispeech", corpus_dir, s, librispeech.URL.format(s), download_dir, "LibriSpeech")
        by_root.setdefault(root, []).append(s)
    for root, names in by_root.items():
        for what, path in librispeech.prepare(root, data_dir, names, strict=strict).items():
            typer.echo(f"{what}: {path}")


@command(data_app, "from-lhotse")
def data_from_lhotse_cmd(recordings: Path = typer.Argument(..., help="lhotse RecordingSet manifest (.jsonl[.gz])"),
                         supervisions: Path = typer.Argument(..., help="lhotse SupervisionSet manifest"),
                         out: Path = typer.Argument(..., help="data dir to write"), case: str = typer.Option(
                             "keep", "--case", help="transcript case: keep (default: lhotse's text as it is), "
                                                    "upper or lower"),
                         strict: bool = STRICT, nj: int = NJ):
    """lhotse manifests -> a validated Kaldi data dir (through lhotse's own Kaldi export)."""
    from data_prep import lhotse_io

    _echo({out: lhotse_io.from_lhotse(recordings, supervisions, out, case, strict, nj)})


@command(data_app, "to-lhotse")
def data_to_lhotse_cmd(data_dir: Path = typer.Argument(..., help="Kaldi data dir"),
                       out: Path = typer.Argument(..., help="folder for recordings.jsonl.gz, supervisions.jsonl.gz")):
    """A Kaldi data dir -> lhotse RecordingSet and SupervisionSet manifests (through lhotse's own Kaldi import)."""
    from data_prep import lhotse_io

    for path in lhotse_io.to_lhotse(data_dir, out):
        typer.echo(str(path))
