"""CMU AN4 (census) in its official layout -> data/{train,dev[,test]}, data/local/{lm_train.txt,dict/lexicon.txt}.

Layout: etc/an4_{train,test}.{fileids,transcription}, etc/an4.dic, wav/<fileid>.raw (headerless 16 kHz 16-bit
signed big-endian mono). A transcription line is `<s> YES </s> (an251-fash-b)` (test lines lack the tags); its
fileids line (same order) gives the path below wav/. The speaker is the id's middle field.
Utterance ids put the speaker first, as Kaldi wants (sorting by utterance keeps speakers together):
`an251-fash-b` -> `fash-an251-b`. wav.scp holds Kaldi's sox pipe, which asr.audio reads natively;
utt2dur comes from the file size.

Split rule: dev = every 10th speaker of the sorted training speakers, starting with the first (8 speakers,
3 female and 5 male: 98 utterances); train = the other 66 speakers (850; 850 + 98 = the official 948);
test = the official test partition (130 utterances, 10 speakers), only when etc/an4_test.* is present.
A missing or broken recording (not a whole number of 16-bit samples) is listed in its set's
`log/prepare_report.txt` and left out; the counts checked are then of the recordings found (`--strict`: stop).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from asr.errors import DataError
from asr.fileio import atomic_write_text
from data_prep.common import Row, arg_parser, find_corpus, run_main, write_sets
from data_prep.report import SetReports

URL = "http://www.speech.cs.cmu.edu/databases/an4/an4_raw.bigendian.tar.gz"
SAMPLE_RATE = 16000
SOX = f"sox -t raw -r {SAMPLE_RATE} -e signed-integer -b 16 -B -c 1 {{}} -t wav - |"
DEV_EVERY = 10
EXPECTED = {"train": 850, "dev": 98, "test": 130}
FILLERS = {"<s>", "</s>", "<sil>"}


def _lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped line) of the non-blank lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_partition(corpus_dir: Path, part: str, bad: list | None = None) -> list[Row]:
    """The utterances of `etc/an4_<part>.{fileids,transcription}`, checked to agree line by line. A recording
    that is missing or not whole 16-bit samples is a DataError, or, given `bad`, appended to it as
    (speaker, where, reason, detail) and left out."""
    ids_path = corpus_dir / "etc" / f"an4_{part}.fileids"
    trn_path = corpus_dir / "etc" / f"an4_{part}.transcription"
    fileids, trans = _lines(ids_path), _lines(trn_path)
    if len(fileids) != len(trans):
        longer, shorter = (ids_path, trn_path) if len(fileids) > len(trans) else (trn_path, ids_path)
        n = max(fileids, trans, key=len)[min(len(fileids), len(trans))][0]
        raise DataError(f"{longer}:{n}: no matching line in {shorter} "
                        f"({len(fileids)} fileids, {len(trans)} transcripts)")
    rows = []
    for (i, fileid), (n, line) in zip(fileids, trans):
        m = re.fullmatch(r"(.*?)\s*\((\S+)\)", line)
        if not m:
            raise DataError(f"{trn_path}:{n}: expected `words (utterance-id)`")
        rec = m[2]
        if Path(fileid).name != rec:
            raise DataError(f"{trn_path}:{n}: utterance '{rec}' but {ids_path}:{i} names '{fileid}'")
        fields = rec.split("-")
        if len(fields) != 3:
            raise DataError(f"{trn_path}:{n}: utterance id '{rec}' is not `<prefix>-<speaker>-<suffix>`")
        words = [w for w in m[1].split() if w not in FILLERS]
        if not words:
            raise DataError(f"{trn_path}:{n}: empty transcript")
        raw = corpus_dir / "wav" / f"{fileid}.raw"
        spk = fields[1]
        try:
            size = raw.stat().st_size
        except FileNotFoundError:
            problem = (f"{ids_path}:{i}", "missing audio", f"no such audio file {raw}")
        else:
            problem = None if size and not size % 2 else (
                str(raw), "empty audio" if size == 0 else "truncated audio",
                f"{size} bytes is not a whole number of 16-bit samples")
        if problem is not None:
            if bad is None:
                raise DataError(f"{problem[0]}: {problem[2]}")
            bad.append((spk, *problem))
            continue
        rows.append((f"{spk}-{fields[0]}-{fields[2]}", spk, SOX.format(shlex.quote(str(raw.resolve()))),
                     " ".join(words), size / 2 / SAMPLE_RATE))
    return rows


def write_lexicon(dic: Path, out: Path) -> None:
    """Sphinx `an4.dic` -> Kaldi lexicon.txt (`WORD PH1 PH2 ...`): words uppercased, `WORD(2)` -> `WORD`."""
    entries = []
    for n, line in _lines(dic):
        word, *phones = line.split()
        if not phones:
            raise DataError(f"{dic}:{n}: word '{word}' has no phones")
        entry = " ".join([re.sub(r"\(\d+\)$", "", word).upper(), *phones])
        if entry not in entries:
            entries.append(entry)
    atomic_write_text(out, "".join(e + "\n" for e in entries))


def prepare(corpus_dir: Path, data_dir: Path, expected: dict[str, int] | None = EXPECTED,
            strict: bool = False) -> dict[str, Path]:
    """Write the data dirs, LM text and lexicon; returns their paths (and `dic`, the corpus dictionary).
    A missing or broken recording is listed in its set's `log/prepare_report.txt` and left out (`strict`: a
    DataError); the counts checked are then of the recordings found."""
    corpus_dir, data_dir = Path(corpus_dir), Path(data_dir)
    bad: list[tuple[str, str, str, str]] = []
    rows = read_partition(corpus_dir, "train", None if strict else bad)
    dev_spks = set(sorted({r[1] for r in rows} | {b[0] for b in bad})[::DEV_EVERY])  # the same with or without drops
    sets = {"train": [r for r in rows if r[1] not in dev_spks], "dev": [r for r in rows if r[1] in dev_spks]}
    where = [("dev" if b[0] in dev_spks else "train", *b[1:]) for b in bad]
    if (corpus_dir / "etc" / "an4_test.transcription").exists():
        bad = []
        sets["test"] = read_partition(corpus_dir, "test", None if strict else bad)
        where += [("test", *b[1:]) for b in bad]
    reports = SetReports(str(corpus_dir), sets, strict)
    for name, *problem in where:
        reports.add(name, *problem)
    out = write_sets(data_dir, sets, expected, reports)
    out["lm_train"] = data_dir / "local" / "lm_train.txt"
    atomic_write_text(out["lm_train"], "".join(r[3] + "\n" for r in sorted(sets["train"])))
    out["dic"] = corpus_dir / "etc" / "an4.dic"
    out["lexicon"] = data_dir / "local" / "dict" / "lexicon.txt"
    write_lexicon(out["dic"], out["lexicon"])
    return out


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    corpus = find_corpus("an4", args.corpus_dir, "etc/an4_train.transcription", URL, args.download_dir, "an4")
    prepare(corpus, Path(args.data_dir), strict=args.strict)


if __name__ == "__main__":
    run_main(main)
