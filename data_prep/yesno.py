"""Kaldi's yes/no corpus (OpenSLR resource 1) -> data/train_yesno, data/test_yesno.

Split rule (as Kaldi's egs/yesno): files whose name starts with `0_` (31) train, `1_` (29) test.
Each file is one utterance of 8 words, `1`=YES, `0`=NO, from one speaker (`global`).
Kaldi's yesno test scores `%WER 0.00 [ 0 / 232 ]`: 29 files x 8 words.
A recording that cannot be read is listed in `data/<set>/log/prepare_report.txt` and left out (`--strict`: stop).
"""

from __future__ import annotations

import re
from pathlib import Path

from asr.data.datadir import DataDir
from asr.errors import AudioError
from data_prep.build import probe_audio
from data_prep.common import arg_parser, find_corpus, run_main, write_data_dir
from data_prep.report import SetReports

URL = "https://www.openslr.org/resources/1/waves_yesno.tar.gz"
SPLITS = {"train_yesno": ("0_", 31), "test_yesno": ("1_", 29)}
WORDS = {"0": "NO", "1": "YES"}
NAME = re.compile(r"[01](_[01]){7}\.wav")


def prepare(corpus_dir: Path, data_dir: Path, strict: bool = False) -> dict[str, Path]:
    """Write the data dirs. A recording that does not open or decode, or a file whose name is not 8 digits, is
    listed in each set's `log/prepare_report.txt` and left out (`strict`: a DataError); the split counts checked
    are those of the files found."""
    waves = corpus_dir / "waves_yesno"
    reports = SetReports(str(waves), SPLITS, strict)
    sets: dict[str, DataDir] = {name: DataDir(text={}, utt2dur={}) for name in SPLITS}
    for f in sorted(waves.glob("*.wav")):
        if not NAME.fullmatch(f.name):
            reports.add(None, str(f), "unexpected file name",
                        "expected 8 digits 0/1 joined by `_`, e.g. 0_1_1_0_0_1_0_1.wav")
            continue
        name = next(n for n, (prefix, _) in SPLITS.items() if f.name.startswith(prefix))
        try:
            info = probe_audio(str(f))
        except AudioError as e:
            reports.add(name, str(f), e.reason, str(e))
            continue
        d, utt = sets[name], f.stem
        d.wav_scp[utt] = str(f.resolve())
        d.text[utt] = " ".join(WORDS[c] for c in utt.split("_"))
        d.utt2spk[utt] = "global"
        d.utt2dur[utt] = info.duration
    expected = reports.expected({name: count for name, (_, count) in SPLITS.items()})
    out = {name: write_data_dir(data_dir / name, d, expected_utts=expected[name]) for name, d in sets.items()}
    reports.write(out, {name: len(d.utt2spk) for name, d in sets.items()})
    return out


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    corpus = find_corpus("yesno", args.corpus_dir, "waves_yesno", URL, args.download_dir)
    prepare(corpus, Path(args.data_dir), args.strict)


if __name__ == "__main__":
    run_main(main)
