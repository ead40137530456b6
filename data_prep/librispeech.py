"""LibriSpeech (OpenSLR 12) -> one data dir per subset, Kaldi-named: dev-clean -> data/dev_clean.

Layout: <root>/<subset>/<spk>/<chapter>/<spk>-<chapter>-<n>.flac, with the chapter's transcripts in
<spk>-<chapter>.trans.txt (`UTT-ID TEXT`); <root> is the `LibriSpeech` folder the OpenSLR archives unpack to.
wav.scp names the flac files (read natively, no `flac -d |` pipe); utt2dur comes from the flac headers.
Speaker = the reader `<spk>`. (Kaldi's recipe uses `<spk>-<chapter>`, which gives per-chapter CMVN; we keep the
real speaker so that per-speaker scores and speaker-disjoint subsets mean what they say.) Utterance ids are
LibriSpeech's own, which already start with the speaker. Split rule: the official subsets, counts asserted.
"""

from __future__ import annotations

from pathlib import Path

from asr.data.kaldi_files import read_entries
from asr.errors import AudioError, DataError
from data_prep.build import probe_audio
from data_prep.common import Row, arg_parser, find_corpus, run_main, write_sets
from data_prep.report import SetReports

URL = "https://www.openslr.org/resources/12/{}.tar.gz"
EXPECTED = {"dev-clean": 2703, "dev-other": 2864, "test-clean": 2620, "test-other": 2939,
            "train-clean-100": 28539, "train-clean-360": 104014, "train-other-500": 148688}


def read_subset(subset_dir: Path, reports: SetReports | None = None) -> list[Row]:
    """Every utterance of a subset; each transcript line must have its flac and each flac its line. Given
    `reports`, a line without audio, audio without a line, or a flac that does not open is listed there (set:
    the subset's data dir name) and left out; else it is a DataError."""
    name = subset_dir.name.replace("-", "_")

    def problem(where: str, reason: str, detail: str, counted: bool = True) -> None:
        if reports is None:
            raise DataError(f"{where}: {detail}")
        reports.add(name, where, reason, detail, counted)

    rows = []
    flacs = {f.stem: f for f in subset_dir.glob("*/*/*.flac")}
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        spk, chapter = trans.parent.parent.name, trans.parent.name
        for e in read_entries(trans):
            if not e.key.startswith(f"{spk}-{chapter}-") or not e.value:
                raise DataError(f"{trans}:{e.line}: expected `{spk}-{chapter}-<n> TEXT`")
            flac = flacs.pop(e.key, None)
            if flac is None or flac.parent != trans.parent:
                problem(f"{trans}:{e.line}", "missing audio", f"no audio file {trans.parent / e.key}.flac")
                continue
            try:
                info = probe_audio(str(flac))
            except AudioError as err:
                problem(f"{trans}:{e.line}", err.reason, str(err))
                continue
            rows.append((e.key, spk, str(flac.resolve()), e.value, info.duration))
    for f in sorted(flacs.values()):
        problem(str(f), "no transcript", f"no transcript line ({len(flacs)} such files)", counted=False)
    if not rows:
        raise DataError(f"{subset_dir}: no transcripts (*/*/*.trans.txt)")
    return rows


def prepare(corpus_dir: Path, data_dir: Path, subsets: list[str],
            expected: dict[str, int] | None = EXPECTED, strict: bool = False) -> dict[str, Path]:
    """Write data_dir/<subset with `_`> for each subset; returns {subset: path}. Bad or missing
    files are listed in each set's log/prepare_report.txt and left out (the counts checked: of files found);
    `strict`: a DataError instead."""
    subsets = list(dict.fromkeys(subsets))
    reports = None if strict else SetReports(str(corpus_dir), [s.replace("-", "_") for s in subsets])
    sets = {s.replace("-", "_"): read_subset(Path(corpus_dir) / s, reports) for s in subsets}
    counts = {s.replace("-", "_"): n for s, n in expected.items()} if expected is not None else None
    return write_sets(Path(data_dir), sets, counts, reports)


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--subsets", nargs="+", default=["dev-clean", "test-clean"], help="e.g. train-clean-100 dev-clean")
    args = p.parse_args()
    by_root: dict[Path, list[str]] = {}  # subsets may sit in different places (e.g. some downloaded)
    for s in args.subsets:
        root = find_corpus("librispeech", args.corpus_dir, s, URL.format(s), args.download_dir, "LibriSpeech")
        by_root.setdefault(root, []).append(s)
    for root, subsets in by_root.items():
        prepare(root, Path(args.data_dir), subsets, strict=args.strict)


if __name__ == "__main__":
    run_main(main)
