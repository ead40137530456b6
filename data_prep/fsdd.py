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

from asr.audio import duration_s
from asr.errors import DataError
from data_prep.common import Row, arg_parser, find_corpus, run_main, write_sets

URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"
KNOWN_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "yweweler")
DEV_SPEAKER = "yweweler"
PER_SPEAKER = 500
WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


def prepare(corpus_dir: Path, data_dir: Path, dev_speaker: str = DEV_SPEAKER,
            per_speaker: int | None = PER_SPEAKER) -> dict[str, Path]:
    """Write the data dirs; every speaker must have `per_speaker` recordings (None: no count check)."""
    if dev_speaker not in KNOWN_SPEAKERS:
        raise DataError(f"dev speaker '{dev_speaker}' is not one of {', '.join(KNOWN_SPEAKERS)}")
    sets: dict[str, list[Row]] = {"train": [], "dev": [], "test": []}
    for f in sorted((Path(corpus_dir) / "recordings").glob("*.wav")):
        m = re.fullmatch(r"(\d)_([A-Za-z0-9]+)_(\d+)\.wav", f.name)
        if not m:
            raise DataError(f"{f}: name is not `{{digit}}_{{speaker}}_{{index}}.wav`")
        digit, spk, idx = m.groups()
        name = "dev" if spk == dev_speaker else "train" if spk in KNOWN_SPEAKERS else "test"
        sets[name].append((f"{spk}-{digit}_{idx}", spk, str(f.resolve()), WORDS[int(digit)], duration_s(str(f))))
    expected = None
    if per_speaker is not None:
        counts = Counter(r[1] for rows in sets.values() for r in rows)
        if bad := {s: n for s, n in sorted(counts.items()) if n != per_speaker}:
            raise DataError(f"{corpus_dir}/recordings: expected {per_speaker} recordings per speaker, found {bad}")
        expected = {"train": per_speaker * (len(KNOWN_SPEAKERS) - 1), "dev": per_speaker,
                    "test": per_speaker * len(set(counts) - set(KNOWN_SPEAKERS))}
    return write_sets(Path(data_dir), sets, expected)


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--dev-speaker", default=DEV_SPEAKER, choices=KNOWN_SPEAKERS, help="the speaker held out as dev")
    args = p.parse_args()
    corpus = find_corpus("fsdd", args.corpus_dir, "recordings", URL, args.download_dir,
                         "free-spoken-digit-dataset-1.0.9")
    prepare(corpus, Path(args.data_dir), args.dev_speaker)


if __name__ == "__main__":
    run_main(main)
