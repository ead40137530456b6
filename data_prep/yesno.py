"""Kaldi's yes/no corpus (OpenSLR resource 1) -> data/train_yesno, data/test_yesno.

Split rule (as Kaldi's egs/yesno): files whose name starts with `0_` (31) train, `1_` (29) test.
Each file is one utterance of 8 words, `1`=YES, `0`=NO, from one speaker (`global`).
Kaldi's yesno test scores `%WER 0.00 [ 0 / 232 ]`: 29 files x 8 words.
"""

from __future__ import annotations

from pathlib import Path

from asr.audio import duration_s
from asr.data.datadir import DataDir
from data_prep.common import arg_parser, find_corpus, run_main, write_data_dir

URL = "https://www.openslr.org/resources/1/waves_yesno.tar.gz"
SPLITS = {"train_yesno": ("0_", 31), "test_yesno": ("1_", 29)}
WORDS = {"0": "NO", "1": "YES"}


def prepare(corpus_dir: Path, data_dir: Path) -> dict[str, Path]:
    waves = corpus_dir / "waves_yesno"
    files = sorted(waves.glob("*.wav"))
    out = {}
    for name, (prefix, count) in SPLITS.items():
        d = DataDir(text={}, utt2dur={})
        for f in files:
            if not f.name.startswith(prefix):
                continue
            utt = f.stem
            d.wav_scp[utt] = str(f.resolve())
            d.text[utt] = " ".join(WORDS[c] for c in utt.split("_"))
            d.utt2spk[utt] = "global"
            d.utt2dur[utt] = duration_s(str(f))
        out[name] = write_data_dir(data_dir / name, d, expected_utts=count)
    return out


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    corpus = find_corpus("yesno", args.corpus_dir, "waves_yesno", URL, args.download_dir)
    prepare(corpus, Path(args.data_dir))


if __name__ == "__main__":
    run_main(main)
