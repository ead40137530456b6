"""A folder of recordings -> a Kaldi data dir: each audio file (any format libsndfile reads, searched
recursively) with its transcript beside it (`x.wav` + `x.txt` or `x.lab`), or one `transcripts.tsv` /
`metadata.csv` manifest in the folder (read as `asr prepare manifest` does; a `metadata.csv` of `id|text|...` lines
with no header as LJSpeech's, audio in `wavs/<id>.wav`).

Speaker (`speaker_from`): `parent` (default: the name of the folder holding the file; files directly in DIR are each
their own speaker), `level:N` (the N-th folder below DIR, 1 = the first), `utt` (every utterance its own speaker),
or `regex:PATTERN` searched in the path relative to DIR (the group named `spk`, else group 1, else the whole match).
Utterance ids are the relative path without its suffix, `/` -> `-`, with the speaker in front.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from asr.errors import DataError
from data_prep.build import AUDIO_SUFFIXES, Item, write_items
from data_prep.manifest import COLUMNS, Columns, read_table
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

MANIFESTS = ("transcripts.tsv", "metadata.csv")
TRANSCRIPT_SUFFIXES = (".txt", ".lab")


def speaker_rule(spec: str):
    """A function (relative path) -> speaker or None (own speaker); raises DataError for a bad spec, and the
    function raises LookupError when a regex does not match."""
    if spec in ("parent", "utt"):
        return (lambda rel: rel.parent.name or None) if spec == "parent" else (lambda rel: None)
    if spec.startswith("level:"):
        try:
            level = int(spec[6:])
        except ValueError:
            level = 0
        if level < 1:
            raise DataError(f"--speaker-from {spec}: expected level:N with N >= 1")
        return lambda rel: rel.parts[level - 1] if len(rel.parts) > level else None
    if spec.startswith("regex:"):
        try:
            pattern = re.compile(spec[6:])
        except re.error as e:
            raise DataError(f"--speaker-from {spec}: not a regular expression: {e}") from None

        def by_regex(rel: Path) -> str:
            m = pattern.search(rel.as_posix())
            if m is None:
                raise LookupError(f"'{pattern.pattern}' does not match '{rel.as_posix()}'")
            if "spk" in pattern.groupindex:
                return m["spk"]
            return m[1] if pattern.groups else m[0]
        return by_regex
    raise DataError(f"--speaker-from {spec}: expected parent, utt, level:N or regex:PATTERN")


def read_transcript(path: Path, report: PrepareReport) -> str | None:
    """The transcript file's text (lines joined), or None (reported) when it is not UTF-8."""
    raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    try:
        return " ".join(raw.decode("utf-8").split())
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        report.add(f"{path}:{line}", "not UTF-8", f"byte 0x{raw[e.start]:02X} at column {col}")
        return None


def _ljspeech_style(path: Path) -> bool:
    """A `metadata.csv` with no header, `id|text|...` lines (LJSpeech's), rather than a CSV manifest."""
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", "replace").strip().lower()
    return "|" in first and not any(c in first.split("|") for c in COLUMNS["path"])


def read_folder(root: Path, report: PrepareReport, speaker_from: str = "parent",
                columns: Columns = Columns()) -> list[Item]:
    root = Path(root)
    rule = speaker_rule(speaker_from)
    for name in MANIFESTS:
        if (root / name).is_file():
            if name == "metadata.csv" and _ljspeech_style(root / name):
                from data_prep.ljspeech import read_metadata

                return read_metadata(root, report)
            return read_table(root / name, report, columns)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
    stems = {p.with_suffix("") for p in audio}
    items = []
    for a in audio:
        rel = a.relative_to(root)
        trn = next((a.with_suffix(s) for s in TRANSCRIPT_SUFFIXES if a.with_suffix(s).is_file()), None)
        if trn is None:
            report.add(str(a), "no transcript", f"expected {rel.with_suffix('.txt')} or .lab beside it")
            continue
        text = read_transcript(trn, report)
        if text is None:
            continue
        try:
            spk = rule(rel)
        except LookupError as e:
            report.add(str(a), "no speaker", f"--speaker-from regex: {e}")
            continue
        items.append(Item(f"{trn}:1", str(a), text, spk))
    for t in files:
        if t.suffix.lower() in TRANSCRIPT_SUFFIXES and t.with_suffix("") not in stems:
            report.add(str(t), "no audio", "a transcript with no audio file of the same name beside it")
    if not audio:
        report.add(str(root), "no audio", f"no audio files ({' '.join(AUDIO_SUFFIXES)}) and no "
                   f"{' or '.join(MANIFESTS)} in the folder")
    return items


def prepare(folder: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
            speaker_from: str = "parent", columns: Columns = Columns(), nj: int = 1) -> PrepareReport:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    report = PrepareReport(str(folder), strict)
    items = read_folder(folder, report, speaker_from, columns)
    write_items(items, out, report, TextNormalizer(case), "folder", id_root=folder, nj=nj)
    return report
