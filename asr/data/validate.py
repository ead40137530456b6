"""Check a data directory against Kaldi's rules (`utils/validate_data_dir.sh`), collecting every fault.

Rules: required files exist; every file is sorted on its key in C order with unique keys; lines are well formed
(no empty transcripts); utt2spk and spk2utt agree and utt2spk is also sorted by speaker (speaker ids prefix
utterance ids); text, feats.scp, utt2dur, utt2num_frames, segments (or wav.scp, without segments) cover
exactly the utterances of utt2spk; cmvn.scp and spk2gender exactly its speakers; segments name recordings of
wav.scp with 0 <= start < end (or end = -1) inside reco2dur; wav.scp paths exist (pipes are not run).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from asr.data.kaldi_files import Entry, read_entries, utt2spk_to_spk2utt
from asr.errors import DataError

# Which key each file is indexed by (Kaldi's names). Without `segments`, recordings are utterances.
UTT_FILES = ("utt2spk", "text", "segments", "feats.scp", "utt2dur", "utt2num_frames")
SPK_FILES = ("spk2utt", "cmvn.scp", "spk2gender")
RECO_FILES = ("wav.scp", "reco2dur", "reco2file_and_channel")
KNOWN_FILES = UTT_FILES + SPK_FILES + RECO_FILES
MAX_OVERSHOOT_S = 0.5  # Kaldi extract-segments --max-overshoot: how far a segment may pass the recording's end
MAX_LISTED = 10  # per file, faults about missing/extra keys beyond this are summarised in one line


@dataclass(frozen=True)
class Fault:
    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


def read_first(path: Path, skipped: list[Entry] | None = None) -> dict[str, Entry]:
    """Entries by key, the first of any duplicates winning (file order kept); `skipped` as `read_entries`."""
    table: dict[str, Entry] = {}
    for e in read_entries(path, skipped):
        table.setdefault(e.key, e)
    return table


def validate_data_dir(path: str | os.PathLike, need_text: bool = True, check_audio: bool = True,
                      need_wav: bool = True) -> list[Fault]:
    """All faults of the data directory `path` (empty list: valid); `check_audio=False`: wav.scp paths are
    not looked at (for readers that do not open the audio); `need_wav=False`: wav.scp may be absent (Kaldi's
    --no-wav, for a dir of features)."""
    d = Path(path)
    if not d.is_dir():
        return [Fault(d, None, "not a directory")]
    faults: list[Fault] = []
    required = (("wav.scp",) if need_wav else ()) + ("utt2spk", "spk2utt") + (("text",) if need_text else ())
    faults += [Fault(d / f, None, "required file is missing") for f in required if not (d / f).is_file()]

    tables: dict[str, dict[str, Entry]] = {}
    for name in KNOWN_FILES:
        if not (d / name).is_file():
            continue
        try:
            entries = read_entries(d / name)
        except DataError as e:  # a line read_entries cannot parse: report it, skip the file's other checks
            m = re.match(r"(.*?):(\d+): (.*)", str(e))
            faults.append(Fault(d / name, int(m[2]), m[3]) if m else Fault(d / name, None, str(e)))
            continue
        faults += _order_faults(d / name, entries)
        faults += [Fault(d / name, e.line, msg) for e in entries if (msg := line_fault(name, e.value))]
        tables[name] = {}
        for e in entries:
            tables[name].setdefault(e.key, e)

    utt2spk = tables.get("utt2spk")
    if utt2spk is None:
        return faults
    faults += _spk_faults(d, utt2spk, tables.get("spk2utt"))
    segments = tables.get("segments")
    for name in UTT_FILES[1:] + (() if segments is not None else ("wav.scp",)):
        if name in tables:
            faults += _set_faults(d / name, tables[name], utt2spk, "utterance", "utt2spk")
    speakers: dict[str, Entry] = {}  # speaker -> its first utt2spk line
    for e in utt2spk.values():
        speakers.setdefault(e.value, e)
    for name in SPK_FILES[1:]:
        if name in tables:
            faults += _set_faults(d / name, tables[name], speakers, "speaker", "utt2spk")
    wav = tables.get("wav.scp", {})
    for name in RECO_FILES[1:]:
        if name in tables and "wav.scp" in tables:
            faults += _set_faults(d / name, tables[name], wav, "recording", "wav.scp")
    if segments is not None and "wav.scp" in tables:
        faults += _segment_faults(d / "segments", segments, wav, tables.get("reco2dur", {}))
    if check_audio:
        faults += [Fault(d / "wav.scp", e.line, msg) for e in wav.values() if (msg := wav_fault(e.value))]
    return faults


def assert_valid_data_dir(path: str | os.PathLike, need_text: bool = True) -> None:
    """Raise DataError listing every fault (one per line) unless the data directory is valid."""
    faults = validate_data_dir(path, need_text)
    if faults:
        raise DataError(f"{path}: invalid data directory ({len(faults)} faults):\n" + "\n".join(map(str, faults)))


def require_valid_data_dir(path: str | os.PathLike) -> None:
    """Before reading a data dir (subset, split, info, ...), as Kaldi's split_data.sh refuses unsorted input:
    raise a one-line DataError naming a fault (file and line), the number of others and the cure.
    Text is optional, audio paths are not checked (these readers do not open the audio) and a dir of features
    needs no wav.scp (decoding in jobs splits one)."""
    d = Path(path)
    if not d.is_dir():
        raise DataError(f"{d}: {'not a directory' if d.exists() else 'no such directory'}, expected a data dir")
    if not any((d / name).is_file() for name in KNOWN_FILES):
        raise DataError(f"{d}: not a data directory (no wav.scp, utt2spk, text or other Kaldi file)")
    faults = validate_data_dir(d, need_text=False, check_audio=False, need_wav=not (d / "feats.scp").is_file())
    if faults:
        first = next((f for f in faults if f.line), faults[0])  # a line to look at, where there is one
        more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
        raise DataError(f"{first}{more}; `asr data validate {d}` lists all, `asr data fix {d}` repairs")
    if not read_entries(d / "utt2spk"):
        raise DataError(f"{d / 'utt2spk'}: no utterances")


def _order_faults(path: Path, entries: list[Entry]) -> list[Fault]:
    """The first out-of-order line, and every duplicate key (C order = Python `str` order)."""
    faults, seen, prev, unsorted = [], {}, None, False
    for e in entries:
        if e.key in seen:
            faults.append(Fault(path, e.line, f"duplicate key '{e.key}' (first on line {seen[e.key]})"))
        elif prev is not None and e.key < prev.key and not unsorted:
            faults.append(Fault(path, e.line, f"not sorted: '{e.key}' after '{prev.key}' (line {prev.line})"))
            unsorted = True
        seen.setdefault(e.key, e.line)
        prev = e
    return faults


def line_fault(name: str, value: str) -> str | None:
    """What is wrong with one line's value, or None."""
    fields = value.split()
    if name == "text":
        return None if fields else "empty transcript"
    if name == "utt2spk":
        return None if len(fields) == 1 else "expected `utt speaker`"
    if name == "segments":
        try:
            start, end = float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            return "expected `utt recording start end`"
        if len(fields) != 3:
            return "expected `utt recording start end`"
        if start < 0:
            return f"start {start} is negative"
        return None if end > start or end == -1 else f"end {end} is not after start {start}"
    if name in ("utt2dur", "reco2dur", "utt2num_frames"):
        try:
            ok = len(fields) == 1 and float(fields[0]) > 0
        except ValueError:
            ok = False
        return None if ok else "expected one positive number"
    if name == "spk2gender":
        return None if fields in (["m"], ["f"]) else "expected `speaker m|f`"
    return None if fields else "nothing after the key"


def _spk_faults(d: Path, utt2spk: dict[str, Entry], spk2utt: dict[str, Entry] | None) -> list[Fault]:
    faults = []
    for prev, e in zip(utt2spk.values(), list(utt2spk.values())[1:]):
        if e.key > prev.key and e.value < prev.value:
            faults.append(Fault(d / "utt2spk", e.line, f"not sorted by speaker: '{e.value}' after '{prev.value}' "
                                "(Kaldi needs speaker ids as prefixes of utterance ids)"))
            break
    if spk2utt is None:
        return faults
    expected = utt2spk_to_spk2utt({u: e.value for u, e in utt2spk.items()})
    path = d / "spk2utt"
    for spk, e in spk2utt.items():
        listed = e.value.split()
        if spk not in expected:
            faults.append(Fault(path, e.line, f"speaker '{spk}' has no utterances in utt2spk"))
        elif listed != expected[spk]:
            extra = [u for u in listed if u not in expected[spk]]
            missing = [u for u in expected[spk] if u not in listed]
            what = (f"lists {extra} not given to '{spk}' in utt2spk" if extra else
                    f"misses {missing} of utt2spk" if missing else "utterances not in sorted order")
            faults.append(Fault(path, e.line, f"speaker '{spk}' {what}"))
    faults += [Fault(path, None, f"speaker '{s}' of utt2spk is missing") for s in expected if s not in spk2utt]
    return faults


def _set_faults(path: Path, table: dict[str, Entry], ref: dict[str, Entry], what: str, ref_name: str) -> list[Fault]:
    """Keys of `table` must be exactly the keys of `ref` (the file `ref_name`)."""
    extra = [Fault(path, e.line, f"{what} '{k}' is not in {ref_name}") for k, e in table.items() if k not in ref]
    missing = [Fault(path, None, f"no entry for {what} '{k}' ({ref_name} line {e.line})")
               for k, e in ref.items() if k not in table]
    faults = []
    for group in (extra, missing):
        faults += group[:MAX_LISTED]
        if len(group) > MAX_LISTED:
            faults.append(Fault(path, None, f"... and {len(group) - MAX_LISTED} more like the above"))
    return faults


def _segment_faults(path: Path, segments: dict[str, Entry], wav: dict[str, Entry],
                    reco2dur: dict[str, Entry]) -> list[Fault]:
    faults = []
    for utt, e in segments.items():
        if line_fault("segments", e.value):
            continue
        rec, start, end = e.value.split()
        if rec not in wav:
            faults.append(Fault(path, e.line, f"recording '{rec}' of '{utt}' is not in wav.scp"))
        elif rec in reco2dur and not line_fault("reco2dur", reco2dur[rec].value):
            dur = float(reco2dur[rec].value)
            if float(start) >= dur or float(end) > dur + MAX_OVERSHOOT_S:
                faults.append(Fault(path, e.line, f"segment {start}-{end} s of '{utt}' lies outside recording "
                                                  f"'{rec}' ({dur} s in reco2dur)"))
    return faults


def wav_fault(value: str) -> str | None:
    """A wav.scp value must be a `command |` or an existing, non-empty file (optionally `file:offset`)."""
    value = value.strip()
    if value.endswith("|") or not value:
        return None
    if len(value.split()) > 1:
        return f"'{value}' has spaces but is not a pipe (`command |`)"
    m = re.fullmatch(r"(.+):\d+", value)
    file = m[1] if m and os.path.isfile(m[1]) else value
    if not os.path.isfile(file):
        return f"no such file: {file}"
    return None if os.path.getsize(file) else f"empty file: {file}"
