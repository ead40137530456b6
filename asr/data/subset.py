"""Subsets and splits of a data directory (Kaldi's `utils/subset_data_dir.sh` and `utils/split_data.sh`).

Both refuse a data dir that fails validation (as split_data.sh refuses unsorted files; `asr data fix` repairs)
and come down to `filter_data_dir`: keep the lines of every file that belong to a set of utterances, their
speakers (spk2utt, cmvn.scp, spk2gender) and their recordings (wav.scp, reco2dur, ... via segments); feats.yaml
(how the features were made) goes with feats.scp.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Iterable

from asr.data.datadir import FEATS_CONFIG
from asr.data.kaldi_files import read_entries, utt2spk_to_spk2utt, write_table
from asr.data.validate import KNOWN_FILES, SPK_FILES, UTT_FILES, read_first, require_valid_data_dir
from asr.errors import DataError

SUBSET_HOW = ("random", "first", "last", "shortest")


def filter_data_dir(src: str | os.PathLike, dst: str | os.PathLike, utts: Iterable[str],
                    backup: Path | None = None, skip_bad_lines: bool = False) -> list[str]:
    """Write into `dst` every known file of `src` restricted to `utts` (first of duplicate keys, sorted);
    spk2utt is regenerated. In place (`dst` = `src`), files whose content would not change are left alone, and
    with `backup` a file is copied there before it is overwritten. Returns the names of the files written.
    `skip_bad_lines`: lines that are not valid UTF-8 (or have no key) are left out instead of an error."""
    src, dst = Path(src), Path(dst)
    skipped = [] if skip_bad_lines else None
    tables = {n: read_first(src / n, skipped) for n in KNOWN_FILES if (src / n).is_file()}
    if "utt2spk" not in tables:
        raise DataError(f"{src / 'utt2spk'}: required file is missing")
    utts = set(utts)
    utt2spk = {u: e.value for u, e in tables["utt2spk"].items() if u in utts}
    segments = tables.get("segments")
    recordings = {segments[u].value.split()[0] for u in utt2spk if u in segments} if segments else set(utt2spk)
    keys = {"utt": utt2spk.keys(), "spk": set(utt2spk.values()), "reco": recordings}
    tables["spk2utt"] = {}
    dst.mkdir(parents=True, exist_ok=True)
    in_place, written = dst.resolve() == src.resolve(), []
    for name, table in tables.items():
        if name == "spk2utt":
            items = [(s, " ".join(us)) for s, us in utt2spk_to_spk2utt(utt2spk).items()]
        else:
            kind = "utt" if name in UTT_FILES else "spk" if name in SPK_FILES else "reco"
            items = sorted((k, e.value) for k, e in table.items() if k in keys[kind])
        target = dst / name
        bad: list | None = [] if skip_bad_lines else None
        if in_place and target.is_file() and [(e.key, e.value) for e in read_entries(target, bad)] == items \
                and not bad:
            continue
        if backup is not None and target.is_file():
            backup.mkdir(exist_ok=True)
            shutil.copy2(target, backup / name)
        write_table(target, items, sort=False)
        written.append(name)
    if not in_place:  # stale files of an earlier run would not match
        for name in set(KNOWN_FILES) - set(tables):
            (dst / name).unlink(missing_ok=True)
        if "feats.scp" in tables and (src / FEATS_CONFIG).is_file():  # the options the features were made with
            shutil.copyfile(src / FEATS_CONFIG, dst / FEATS_CONFIG)
            written.append(FEATS_CONFIG)
        else:
            (dst / FEATS_CONFIG).unlink(missing_ok=True)
    return written


def subset_data_dir(src: str | os.PathLike, dst: str | os.PathLike, n: int | None = None, *, how: str = "random",
                    utt_list: str | os.PathLike | None = None, spk_list: str | os.PathLike | None = None,
                    seed: int = 0) -> int:
    """Copy a subset of `src` to `dst`; returns the number of utterances.

    Exactly one of: `n` utterances chosen by `how` (random with `seed`, first, last, or shortest by utt2dur);
    the utterances listed in `utt_list`; the speakers listed in `spk_list` (first field of each line).
    """
    src, dst = Path(src), Path(dst)
    if sum(x is not None for x in (n, utt_list, spk_list)) != 1:
        raise DataError("subset: give exactly one of a number, an utterance list or a speaker list")
    if dst.resolve() == src.resolve():
        raise DataError(f"{dst}: the subset must go to another directory")
    require_valid_data_dir(src)
    utt2spk = {u: e.value for u, e in read_first(src / "utt2spk").items()}
    utts = sorted(utt2spk)
    if utt_list is not None:
        chosen = [u for u in utts if u in read_first(Path(utt_list))]
    elif spk_list is not None:
        speakers = read_first(Path(spk_list))
        chosen = [u for u in utts if utt2spk[u] in speakers]
    elif not 0 < n <= len(utts):
        raise DataError(f"{src}: cannot take {n} of its {len(utts)} utterances")
    elif how == "first":
        chosen = utts[:n]
    elif how == "last":
        chosen = utts[-n:]
    elif how == "random":
        chosen = random.Random(seed).sample(utts, n)
    elif how == "shortest":
        if not (src / "utt2dur").is_file():
            raise DataError(f"{src / 'utt2dur'}: needed to pick the shortest utterances")
        dur = {u: float(e.value) for u, e in read_first(src / "utt2dur").items()}
        chosen = sorted(utts, key=lambda u: (dur.get(u, float("inf")), u))[:n]
    else:
        raise DataError(f"subset: unknown selection '{how}' (choose from {', '.join(SUBSET_HOW)})")
    if not chosen:
        raise DataError(f"{src}: the subset is empty")
    filter_data_dir(src, dst, chosen)
    return len(chosen)


def split_data_dir(path: str | os.PathLike, n: int, per_utt: bool = False) -> list[Path]:
    """Split into `path/split{n}[utt]/{1..n}`, each a data dir; speakers stay whole unless `per_utt`.

    Parts are contiguous in speaker (utterance) order and balanced by utterance count. An existing split that
    is newer than every source file is reused.
    """
    d = Path(path)
    dirs = [d / f"split{n}{'utt' if per_utt else ''}" / str(i) for i in range(1, n + 1)]
    require_valid_data_dir(d)
    if n >= 1 and _up_to_date(d, dirs):
        return dirs
    utt2spk = {u: e.value for u, e in read_first(d / "utt2spk").items()}
    units = [[u] for u in sorted(utt2spk)] if per_utt else list(utt2spk_to_spk2utt(utt2spk).values())
    if not 1 <= n <= len(units):
        raise DataError(f"{d}: cannot split {len(units)} {'utterances' if per_utt else 'speakers'} into {n} parts")
    for part, group in zip(dirs, _partition(units, n)):
        filter_data_dir(d, part, [u for unit in group for u in unit])
    return dirs


def _partition(units: list[list[str]], n: int) -> list[list[list[str]]]:
    """`n` non-empty contiguous groups of `units` with about equal numbers of utterances."""
    total, groups, i, count = sum(map(len, units)), [], 0, 0
    for j in range(1, n):
        end, count = i + 1, count + len(units[i])
        while end < len(units) - (n - j) and count + len(units[end]) / 2 <= total * j / n:
            count, end = count + len(units[end]), end + 1
        groups.append(units[i:end])
        i = end
    return groups + [units[i:]]


def _up_to_date(d: Path, dirs: list[Path]) -> bool:
    names = (*KNOWN_FILES, FEATS_CONFIG) if (d / "feats.scp").is_file() else KNOWN_FILES  # as filter_data_dir
    sources = [d / name for name in names if (d / name).is_file()]
    newest = max(p.stat().st_mtime_ns for p in sources) if sources else 0
    return all((part / p.name).is_file() and (part / p.name).stat().st_mtime_ns >= newest
               for part in dirs for p in sources)
