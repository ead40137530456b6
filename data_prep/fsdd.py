"""Free Spoken Digit Dataset (FSDD) -> data/{train,dev[,test]}.

Layout: recordings/{digit}_{speaker}_{index}.wav, 8 kHz 16-bit mono; the text is the digit as an English word
(ZERO ... NINE). Utterance ids are `{speaker}-{digit}_{index}` (speaker first, as Kaldi wants).
Split rule, by speaker so that the figure is speaker-independent: dev = yweweler (the alphabetically last of the
five known speakers), train = george, jackson, lucas, nicolas; test = every other speaker present (the sixth
speaker of a full copy); an empty test set is not written. Every speaker has 500 recordings (50 per digit):
train 2000, dev 500, test 500 per new speaker.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from asr.errors import AudioError, DataError
from data_prep.build import probe_audio
from data_prep.common import Row, arg_parser, find_corpus, run_main, write_sets
from data_prep.report import SetReports

URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"
KNOWN_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "yweweler")
DEV_SPEAKER = "yweweler"
PER_SPEAKER = 500
WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


def prepare(corpus_dir: Path, data_dir: Path, dev_speaker: str = DEV_SPEAKER,
            per_speaker: int | None = PER_SPEAKER, strict: bool = False) -> dict[str, Path]:
    """Write the data dirs; every speaker must have `per_speaker` recordings (None: no count check). A recording
    that does not open or decode, or a file whose name is not `{digit}_{speaker}_{index}.wav`, is listed in each
    set's `log/prepare_report.txt` and left out (`strict`: a DataError); the counts checked are of files found."""
    if dev_speaker not in KNOWN_SPEAKERS:
        raise DataError(f"dev speaker '{dev_speaker}' is not one of {', '.join(KNOWN_SPEAKERS)}")
    sets: dict[str, list[Row]] = {"train": [], "dev": [], "test": []}
    reports = SetReports(str(Path(corpus_dir) / "recordings"), sets, strict)
    found: Counter = Counter()  # recordings per speaker, the dropped ones included
    for f in sorted((Path(corpus_dir) / "recordings").glob("*.wav")):
        m = re.fullmatch(r"(\d)_([A-Za-z0-9]+)_(\d+)\.wav", f.name)
        if not m:
            reports.add(None, str(f), "unexpected file name", "expected `{digit}_{speaker}_{index}.wav`")
            continue
        digit, spk, idx = m.groups()
        name = "dev" if spk == dev_speaker else "train" if spk in KNOWN_SPEAKERS else "test"
        found[spk] += 1
        try:
            info = probe_audio(str(f))
        except AudioError as e:
            reports.add(name, str(f), e.reason, str(e))
            continue
        sets[name].append((f"{spk}-{digit}_{idx}", spk, str(f.resolve()), WORDS[int(digit)], info.duration))
    expected = None
    if per_speaker is not None:
        if bad := {s: n for s, n in sorted(found.items()) if n != per_speaker}:
            raise DataError(f"{corpus_dir}/recordings: expected {per_speaker} recordings per speaker, found {bad}")
        expected = {"train": per_speaker * (len(KNOWN_SPEAKERS) - 1), "dev": per_speaker,
                    "test": per_speaker * len(set(found) - set(KNOWN_SPEAKERS))}
    return write_sets(Path(data_dir), sets, expected, reports)


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--dev-speaker", default=DEV_SPEAKER, choices=KNOWN_SPEAKERS, help="the speaker held out as dev")
    args = p.parse_args()
    corpus = find_corpus("fsdd", args.corpus_dir, "recordings", URL, args.download_dir,
                         "free-spoken-digit-dataset-1.0.9")
    prepare(corpus, Path(args.data_dir), args.dev_speaker, strict=args.strict)


if __name__ == "__main__":
    run_main(main)
