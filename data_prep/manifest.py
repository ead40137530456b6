"""A manifest -> a Kaldi data dir: CSV or TSV with a header, or JSON lines (NeMo's `audio_filepath text duration
[offset]`), or one JSON array of such objects.

Columns are found by name, case-insensitively (override with `text_column=` etc.): audio `path audio file
audio_filepath wav ...`, transcript `text transcript sentence transcription ...`, optional speaker `speaker
client_id spk speaker_id`, utterance id `id utt_id ...`, `duration`, `offset|start` and `end` (-> segments).
Relative audio paths are taken from the manifest's folder. TSV fields are split on tabs with no quoting (Common
Voice's sentences hold quotes); CSV follows RFC 4180 quoting, one record per line. Every malformed line (bad
UTF-8, wrong field count, invalid JSON with its byte offset and the parser's message, a missing or wrongly typed
value) is listed in the report and skipped.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from data_prep.build import Item, write_items
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

COLUMNS = {
    "path": ("path", "audio", "file", "audio_filepath", "wav", "audio_path", "filepath", "filename", "file_name",
             "wav_filename", "wav_path"),
    "text": ("text", "transcript", "sentence", "transcription", "normalized_text", "utterance"),
    "speaker": ("speaker", "client_id", "spk", "speaker_id", "spk_id"),
    "id": ("id", "utt_id", "utt", "utterance_id", "uttid", "key"),
    "duration": ("duration", "duration_s", "dur"),
    "offset": ("offset", "start", "start_s"),
    "end": ("end", "end_s"),
}
REQUIRED = ("path", "text")


@dataclass
class Columns:
    """Overrides of the column names (None: found by the names in COLUMNS)."""

    text: str | None = None
    path: str | None = None
    speaker: str | None = None


def lines(path: Path, report: PrepareReport) -> Iterator[tuple[int, int, str]]:
    """(line number, byte offset, text) of each non-blank line; lines that are not UTF-8 are reported."""
    offset = 0
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            start, offset = offset, offset + len(raw)
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, start = raw[3:], start + 3
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                report.add(f"{path}:{n}", "not UTF-8", f"byte 0x{raw[e.start]:02X} at column {e.start + 1}")
                continue
            if text.strip():
                yield n, start, text


def find_columns(names: list[str], where: str, report: PrepareReport, overrides: Columns) -> dict[str, str] | None:
    """{role: column name} for the header `names`, or None (reported) when a required column is missing."""
    lower = {n.strip().lower(): n for n in names}
    found = {}
    for role, candidates in COLUMNS.items():
        want = getattr(overrides, role, None)
        if want is not None:
            if want not in names and want.lower() not in lower:
                report.add(where, "missing column", f"no column '{want}' (given by --{role}-column); "
                           f"columns: {', '.join(names)}")
                return None
            found[role] = want if want in names else lower[want.lower()]
            continue
        hit = next((lower[c] for c in candidates if c in lower), None)
        if hit is not None:
            found[role] = hit
        elif role in REQUIRED:
            report.add(where, "missing column", f"no {role} column (one of {', '.join(candidates)}; or "
                       f"--{role}-column); columns: {', '.join(names)}")
            return None
    return found


def item_from(values: dict, cols: dict[str, str], where: str, base: Path, report: PrepareReport) -> Item | None:
    """An Item from one row or object, or None (reported) for a missing or wrongly typed value."""
    got = {}
    for role, col in cols.items():
        v = values.get(col)
        if v is None or (isinstance(v, str) and not v.strip() and role not in ("text",)):
            if role in REQUIRED:
                what = "missing value" if col in values else "missing column"
                report.add(where, what, f"no '{col}'" + (" value" if col in values else ""))
                return None
            continue
        if role in ("duration", "offset", "end"):
            try:
                got[role] = float(v)
            except (TypeError, ValueError):
                report.add(where, "wrong value type", f"{col} {v!r} is not a number")
                return None
            if got[role] != got[role] or got[role] in (float("inf"), float("-inf")):
                report.add(where, "wrong value type", f"{col} {v!r} is not a finite number")
                return None
        elif not isinstance(v, (str, int)) or isinstance(v, bool):
            report.add(where, "wrong value type", f"{col} is {type(v).__name__}, expected a string")
            return None
        else:
            got[role] = str(v)
    audio = Path(got["path"])
    return Item(where, str(audio if audio.is_absolute() else base / audio), got["text"], got.get("speaker"),
                got.get("id"), got.get("offset"), got.get("end"), got.get("duration"))


def read_table(path: Path, report: PrepareReport, overrides: Columns = Columns(), base: Path | None = None,
               delimiter: str | None = None) -> list[Item]:
    """Items of a CSV/TSV (or `|`-separated) file with a header line."""
    path = Path(path)
    base = base if base is not None else path.parent
    rows = lines(path, report)
    head = next(rows, None)
    if head is None:
        report.add(f"{path}:1", "empty manifest", "no header line")
        return []
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else max(",\t|;", key=head[2].count)

    def split(text: str) -> list[str]:
        if delimiter == "\t":
            return text.split("\t")
        return next(csv.reader([text], delimiter=delimiter, strict=False))

    names = [n.strip() for n in split(head[2])]
    cols = find_columns(names, f"{path}:{head[0]}", report, overrides)
    if cols is None:
        return []
    items = []
    for n, _, text in rows:
        where = f"{path}:{n}"
        try:
            fields = split(text)
        except csv.Error as e:
            report.add(where, "malformed line", str(e))
            continue
        if len(fields) != len(names):
            report.add(where, "malformed line", f"{len(fields)} fields, the header has {len(names)}")
            continue
        it = item_from(dict(zip(names, fields)), cols, where, base, report)
        if it is not None:
            items.append(it)
    return items


def read_json(path: Path, report: PrepareReport, overrides: Columns = Columns()) -> list[Item]:
    """Items of a JSON-lines file (one object a line), or of a file holding one JSON array of objects."""
    path = Path(path)
    base = path.parent
    try:
        first = path.read_bytes().lstrip()[:1]
    except OSError as e:
        report.add(str(path), "unreadable manifest", e.strerror or str(e))
        return []
    objects: list[tuple[str, object]] = []
    if first == b"[":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as e:
            report.add(str(path), "not UTF-8", f"byte 0x{e.object[e.start]:02X} at byte {e.start}")
            return []
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            report.add(f"{path}:{e.lineno}", "invalid JSON",
                       f"byte {len(text[:e.pos].encode())}: {e.msg} (line {e.lineno} column {e.colno})")
            return []
        objects = [(f"{path}[{i}]", o) for i, o in enumerate(data)] if isinstance(data, list) else [(str(path), data)]
    else:
        for n, offset, text in lines(path, report):
            try:
                objects.append((f"{path}:{n}", json.loads(text)))
            except json.JSONDecodeError as e:
                report.add(f"{path}:{n}", "invalid JSON",
                           f"byte {offset + len(text[:e.pos].encode())}: {e.msg} (column {e.colno})")
    items = []
    cols_for: dict[tuple, tuple[dict | None, PrepareReport]] = {}  # per key set: its columns, or why none
    for where, obj in objects:
        if not isinstance(obj, dict):
            report.add(where, "malformed line", f"expected a JSON object, found {type(obj).__name__}")
            continue
        keys = tuple(obj)
        if keys not in cols_for:
            why = PrepareReport(report.source)
            cols_for[keys] = (find_columns(list(obj), where, why, overrides), why)
        cols, why = cols_for[keys]
        if cols is None:
            report.add(where, why.problems[0].reason, why.problems[0].detail)
            continue
        it = item_from(obj, cols, where, base, report)
        if it is not None:
            items.append(it)
    return items


def read_manifest(path: Path, report: PrepareReport, overrides: Columns = Columns()) -> list[Item]:
    """Items of a manifest, by its suffix: .json/.jsonl/.ndjson are JSON, anything else a table."""
    path = Path(path)
    if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
        return read_json(path, report, overrides)
    return read_table(path, report, overrides)


def prepare(manifest: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
            columns: Columns = Columns(), nj: int = 1) -> PrepareReport:
    """Write the data dir `out` from a manifest; returns the report (also in `out/log/prepare_report.txt`)."""
    manifest = Path(manifest)
    if not manifest.is_file():
        from asr.errors import DataError

        raise DataError(f"{manifest}: no such manifest file")
    report = PrepareReport(str(manifest), strict)
    normalizer = TextNormalizer(case)
    items = read_manifest(manifest, report, columns)
    write_items(items, out, report, normalizer, "manifest", id_root=manifest.parent, nj=nj)
    return report
