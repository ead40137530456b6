"""`asr prepare auto SRC OUT`: what SRC is, found from its layout, and prepared as such.

A Kaldi data dir (has wav.scp) -> a validated copy (`asr data fix` drops what cannot be used); a Common Voice
release (clips/ and *.tsv) -> OUT/<split>/; one Common Voice split (a .tsv with clips/ beside it) -> OUT; an
LJSpeech folder (metadata.csv and wavs/); any other folder -> a folder of recordings; a .csv/.tsv/.json/.jsonl
file -> a manifest.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from asr.errors import DataError
from data_prep.report import PrepareReport, Problem

MANIFEST_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson")
COPIED = ("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "reco2dur", "spk2gender", "utt2lang")


def detect(src: str | os.PathLike) -> str:
    """datadir, commonvoice, commonvoice-split, ljspeech, folder or manifest."""
    p = Path(src)
    if p.is_dir():
        if (p / "wav.scp").is_file():
            return "datadir"
        if (p / "clips").is_dir() and any(p.glob("*.tsv")):
            return "commonvoice"
        if (p / "metadata.csv").is_file() and (p / "wavs").is_dir():
            return "ljspeech"
        return "folder"
    if p.is_file():
        if p.suffix.lower() == ".tsv" and (p.parent / "clips").is_dir():
            return "commonvoice-split"
        if p.suffix.lower() in MANIFEST_SUFFIXES:
            return "manifest"
        raise DataError(f"{p}: not a manifest ({', '.join(MANIFEST_SUFFIXES)}), a folder or a data dir")
    raise DataError(f"{p}: no such file or folder")


def copy_data_dir(src: str | os.PathLike, out: str | os.PathLike, strict: bool = False) -> PrepareReport:
    """Copy a data dir's files (features are left behind: they are recomputed), then fix and validate the copy;
    what `fix` drops is listed in the report too."""
    from asr.data.fix import fix_and_report
    from asr.data.validate import assert_valid_data_dir

    src, out = Path(src), Path(out)
    if src.resolve() == out.resolve():
        raise DataError(f"{out}: the copy would overwrite its source")
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
        else:
            (out / name).unlink(missing_ok=True)
    report = PrepareReport(str(src), strict)
    fixed, _ = fix_and_report(out, strict=strict)
    for r in fixed.rejected:  # name the source's file and line, not the copy's
        where, _, detail = r.detail.partition(": ")
        name = Path(where).name
        key = re.match(r"(?:\w+ )?'([^']*)'", detail)
        line = _line_of(src / name, key[1] if key else r.utt)
        report.problems.append(Problem(f"{src / name}" + (f":{line}" if line else ""), r.reason, detail))
    report.kept = fixed.kept
    report.write(out)
    if not (out / "utt2dur").is_file():
        _write_utt2dur(out)
    assert_valid_data_dir(out, need_text=(out / "text").is_file())
    return report


def _line_of(path: Path, key: str) -> int | None:
    """The number of the first line of `path` whose key is `key`."""
    from asr.data.kaldi_files import read_entries

    try:
        return next((e.line for e in read_entries(path, skipped=[]) if e.key == key), None)
    except DataError:
        return None


def _write_utt2dur(data_dir: Path) -> None:
    from asr.audio import duration_s
    from asr.data.datadir import DataDir

    d = DataDir.load(data_dir)
    d.utt2dur = {u.utt_id: (u.end_s if u.end_s is not None else duration_s(u.wav)) - u.start_s
                 for u in d.utterances()}
    d.save(data_dir)


def prepare(src: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
            speaker_from: str = "parent", splits: list[str] | None = None, columns=None,
            nj: int = 1) -> dict[str, PrepareReport]:
    """Prepare SRC as what `detect` finds; returns {data dir: report}. `speaker_from` is for a folder, `splits`
    for a Common Voice release, `columns` (manifest.Columns) for manifests and folders; `nj`: audio checks."""
    from data_prep import commonvoice, folder, ljspeech, manifest

    columns = columns or manifest.Columns()
    kind = detect(src)
    if kind == "datadir":
        return {str(out): copy_data_dir(src, out, strict)}
    if kind == "commonvoice":
        reports = commonvoice.prepare(src, out, splits, case, strict, columns, nj)
        return {str(Path(out) / s): r for s, r in reports.items()}
    if kind == "commonvoice-split":
        return {str(out): commonvoice.prepare_split(src, out, case, strict, columns, nj)}
    if kind == "ljspeech":
        return {str(out): ljspeech.prepare(src, out, case, strict, nj=nj)}
    if kind == "folder":
        return {str(out): folder.prepare(src, out, case, strict, speaker_from, columns, nj)}
    return {str(out): manifest.prepare(src, out, case, strict, columns, nj)}
