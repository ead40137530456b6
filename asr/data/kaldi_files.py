"""All reading and writing of Kaldi table files (`key value...` per line) lives here.

Kaldi's rules: one entry per line, the key is the first whitespace-free field, keys sorted in C-locale
(byte) order and unique. Python's `str` order is code-point order, which equals UTF-8 byte order.
A UTF-8 byte-order mark (as Windows editors write) is not part of the first key: readers strip it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from asr.errors import DataError
from asr.fileio import atomic_write


_FIRST_SPACE = re.compile(r"[ \t\r\f\v]")  # the key ends at the first white space, as Kaldi's (C locale)
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Entry:
    """One line of a table file: key, the rest of the line, and where it came from."""

    key: str
    value: str
    line: int


def read_entries(path: str | os.PathLike, skipped: list[Entry] | None = None) -> list[Entry]:
    """Read every `key value` line in file order, keeping line numbers (1-based).

    Raises DataError for undecodable bytes or a line with no key; given a `skipped` list, such lines are
    appended to it instead (key: the line's first field, decoded as far as it goes; value: what is wrong).
    """
    path = Path(path)
    entries = []

    def bad(lineno: int, raw: bytes, what: str) -> None:
        if skipped is None:
            raise DataError(f"{path}:{lineno}: {what}")
        fields = raw.split(maxsplit=1)
        skipped.append(Entry(fields[0].decode("utf-8", "replace") if fields else "", what, lineno))

    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if lineno == 1:
                    raw = raw.removeprefix(UTF8_BOM)
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    bad(lineno, raw, "not valid UTF-8")
                    continue
                if not line.strip():
                    bad(lineno, raw, "empty line")
                    continue
                if line[0].isspace():
                    bad(lineno, raw, "line starts with white space")
                    continue
                m = _FIRST_SPACE.search(line)
                key, value = (line[:m.start()], line[m.end():]) if m else (line, "")
                entries.append(Entry(key, value.strip(), lineno))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a table file") from None
    return entries


def read_table(path: str | os.PathLike) -> dict[str, str]:
    """Read a table into a dict (file order). Raises DataError naming file and line of a duplicate key."""
    table: dict[str, str] = {}
    for e in read_entries(path):
        if e.key in table:
            raise DataError(f"{path}:{e.line}: duplicate key '{e.key}'")
        table[e.key] = e.value
    return table


def read_table_list(path: str | os.PathLike) -> dict[str, list[str]]:
    """A table whose value is a list of fields (e.g. `spk2utt`, `segments`)."""
    return {k: v.split() for k, v in read_table(path).items()}


def write_table(path: str | os.PathLike, table: Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]],
                sort: bool = True) -> None:
    """Write `key value` lines atomically, sorted by key (C order) unless `sort=False`."""
    items = list(table.items()) if isinstance(table, Mapping) else list(table)
    if sort:
        items.sort(key=lambda kv: kv[0])
    with atomic_write(path) as f:
        for key, value in items:
            if not isinstance(value, str):
                value = " ".join(str(v) for v in value)
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


def utt2spk_to_spk2utt(utt2spk: Mapping[str, str]) -> dict[str, list[str]]:
    spk2utt: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        spk2utt.setdefault(utt2spk[utt], []).append(utt)
    return dict(sorted(spk2utt.items()))
