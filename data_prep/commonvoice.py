"""A Common Voice release (or one split's TSV) -> one Kaldi data dir per split.

Layout: `<dir>/{train,dev,test,validated,other,invalidated}.tsv` and `<dir>/clips/*.mp3` (48 kHz MP3, read
natively). The TSV columns are found by name, since releases differ (`client_id path sentence up_votes down_votes
age gender accents variant locale segment` in v13-v16, `sentence_id` and `sentence_domain` added later, `accent`
before v7); fields are tab-separated with no quoting. Speaker = `client_id`; utterance id =
`<client_id>-<clip name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

from asr.errors import DataError
from data_prep.build import write_items
from data_prep.common import log
from data_prep.manifest import Columns, read_table
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

SPLITS = ("train", "dev", "test")


def prepare_split(tsv: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
                  columns: Columns = Columns(), nj: int = 1) -> PrepareReport:
    """One split's TSV (clips in `clips/` beside it) -> the data dir `out`."""
    tsv = Path(tsv)
    if not tsv.is_file():
        raise DataError(f"{tsv}: no such file")
    clips = tsv.parent / "clips"
    report = PrepareReport(str(tsv), strict)
    items = read_table(tsv, report, columns, base=clips, delimiter="\t")
    write_items(items, out, report, TextNormalizer(case), "commonvoice", id_root=clips, nj=nj)
    return report


def _rows(tsv: Path) -> int:
    """Non-blank lines after the header."""
    with open(tsv, "rb") as f:
        return sum(1 for line in f if line.strip()) - 1


def prepare(release: str | os.PathLike, out: str | os.PathLike, splits: list[str] | None = None,
            case: str = "upper", strict: bool = False, columns: Columns = Columns(),
            nj: int = 1) -> dict[str, PrepareReport]:
    """`out/<split>` for each split whose TSV is present (`splits` None: train, dev, test); a TSV with no rows is
    skipped (unless all are empty)."""
    release = Path(release)
    if not (release / "clips").is_dir():
        raise DataError(f"{release}: not a Common Voice release (no clips/ folder)")
    wanted = list(splits or SPLITS)
    present = [s for s in wanted if (release / f"{s}.tsv").is_file()]
    empty = [s for s in present if _rows(release / f"{s}.tsv") == 0]
    if empty and len(empty) < len(present):  # a header alone (some releases ship an empty split): nothing to write
        log.warning("%s: %s hold%s no clips; skipped", release, ", ".join(f"{s}.tsv" for s in empty),
                    "s" * (len(empty) == 1))
        present = [s for s in present if s not in empty]
    if not present:
        raise DataError(f"{release}: none of {', '.join(s + '.tsv' for s in wanted)}")
    missing = [s for s in wanted if s not in present]
    if splits and missing:
        raise DataError(f"{release}: no {', '.join(s + '.tsv' for s in missing)}")
    return {s: prepare_split(release / f"{s}.tsv", Path(out) / s, case, strict, columns, nj) for s in present}
