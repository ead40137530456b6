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
from data_prep.manifest import Columns, read_table
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

SPLITS = ("train", "dev", "test")


def prepare_split(tsv: str | os.PathLike, out: str | os.PathLike, case: str = "upper", strict: bool = False,
                  columns: Columns = Columns()) -> PrepareReport:
    """One split's TSV (clips in `clips/` beside it) -> the data dir `out`."""
    tsv = Path(tsv)
    if not tsv.is_file():
        raise DataError(f"{tsv}: no such file")
    clips = tsv.parent / "clips"
    report = PrepareReport(str(tsv), strict)
    items = read_table(tsv, report, columns, base=clips, delimiter="\t")
    write_items(items, out, report, TextNormalizer(case), "commonvoice", id_root=clips)
    return report


def prepare(release: str | os.PathLike, out: str | os.PathLike, splits: list[str] | None = None,
            case: str = "upper", strict: bool = False, columns: Columns = Columns()) -> dict[str, PrepareReport]:
    """`out/<split>` for each split whose TSV is present (`splits` None: train, dev, test)."""
    release = Path(release)
    if not (release / "clips").is_dir():
        raise DataError(f"{release}: not a Common Voice release (no clips/ folder)")
    wanted = list(splits or SPLITS)
    present = [s for s in wanted if (release / f"{s}.tsv").is_file()]
    if not present:
        raise DataError(f"{release}: none of {', '.join(s + '.tsv' for s in wanted)}")
    missing = [s for s in wanted if s not in present]
    if splits and missing:
        raise DataError(f"{release}: no {', '.join(s + '.tsv' for s in missing)}")
    return {s: prepare_split(release / f"{s}.tsv", Path(out) / s, case, strict, columns) for s in present}
