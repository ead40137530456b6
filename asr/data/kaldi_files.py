"""All reading and writing of Kaldi table files (`key value...` per line) lives here.

Kaldi's rules: one entry per line, the key is the first whitespace-free field, keys sorted in C-locale
(byte) order and unique. Python's `str` order is code-point order, which equals UTF-8 byte order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from asr.errors import DataError
from asr.fileio import atomic_write


@dataclass(frozen=True)
class Entry:
    """One line of a table file: key, the rest of the line, and where it came from."""

    key: str
    value: str
    line: int


def read_entries(path: str | os.PathLike) -> list[Entry]:
    """Read every `key value` line in file order, keeping line numbers (1-based).

    Raises DataError for undecodable bytes or a line with no key.
    """
    path = Path(path)
    entries = []
    try:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    raise DataError(f"{path}:{lineno}: not valid UTF-8") from None
                if not line.strip():
                    raise DataError(f"{path}:{lineno}: empty line")
                if line[0].isspace():
                    raise DataError(f"{path}:{lineno}: line starts with white space")
                key, _, value = line.partition(" ")
                if "\t" in key:
                    key, _, value = line.partition("\t")
                entries.append(Entry(key, value.strip(), lineno))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
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
