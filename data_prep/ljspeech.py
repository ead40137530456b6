"""LJSpeech (or any corpus in its layout) -> one Kaldi data dir.

Layout: `metadata.csv` with no header, `id|transcription|normalized transcription` per line (the normalised
column is used; the raw one when it is empty), audio in `wavs/<id>.wav`. One speaker, `LJ` (or `speaker=`).
"""

from __future__ import annotations

import os
from pathlib import Path

from asr.errors import DataError
from data_prep.build import Item, write_items
from data_prep.manifest import lines
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer


def read_metadata(root: Path, report: PrepareReport, speaker: str = "LJ") -> list[Item]:
    meta = root / "metadata.csv"
    items = []
    for n, _, text in lines(meta, report):
        fields = text.split("|")
        if len(fields) < 2 or not fields[0].strip():
            report.add(f"{meta}:{n}", "malformed line", f"expected `id|text|normalized text`, found {len(fields)} "
                       f"field{'s' * (len(fields) != 1)}")
            continue
        words = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        utt = fields[0].strip()
        items.append(Item(f"{meta}:{n}", str(root / "wavs" / f"{utt}.wav"), words, speaker, utt))
    return items


def prepare(root: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
            speaker: str = "LJ", nj: int = 1) -> PrepareReport:
    root = Path(root)
    if not (root / "metadata.csv").is_file():
        raise DataError(f"{root}: not an LJSpeech folder (no metadata.csv)")
    report = PrepareReport(str(root), strict)
    write_items(read_metadata(root, report, speaker), out, report, TextNormalizer(case), "ljspeech", nj=nj)
    return report
