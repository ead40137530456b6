"""AN4's training partition written as a Common Voice release, to check egs/custom against egs/an4 (issue 15).

    python scripts/an4_as_commonvoice.py /work/shared/corpora/an4 /tmp/an4_cv [--nj 2]

OUT/clips/*.mp3 are the recordings at 48 kHz (resampled from 16 kHz, MP3 through soundfile); OUT/train.tsv and
OUT/dev.tsv have Common Voice 17's columns, a hashed `client_id` per speaker (sha512, as Common Voice), and
mixed-case transcripts with punctuation (`Enter, six two four.`), which `asr prepare` (--case upper) takes back
to AN4's words. dev = the speakers data_prep/an4.py holds out (every 10th of the sorted training speakers), so
both recipes are scored on the same 98 utterances.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.audio import load_audio  # noqa: E402
from data_prep.an4 import DEV_EVERY, read_partition  # noqa: E402

COLUMNS = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age",
           "gender", "accents", "variant", "locale", "segment"]  # Common Voice 17
RATE = 48000


def sentence(words: str, k: int) -> str:
    """AN4's upper-case words as a person would type them: `Enter, six two four.` / `Rubout g m e f three nine?`"""
    w = words.lower().split()
    w[0] = w[0].capitalize()
    if len(w) > 3 and k % 2 == 0:
        w[0] += ","
    return " ".join(w) + ("?" if k % 5 == 0 else ".")


def write_clip(job: tuple[str, str]) -> None:
    from asr.audio import resample

    wav, path = job
    y = resample(load_audio(wav), 16000, RATE)
    sf.write(path, np.clip(y, -0.99, 0.99), RATE, format="MP3", subtype="MPEG_LAYER_III")


def convert(an4: Path, out: Path, nj: int = 1) -> dict[str, int]:
    """Write the release; returns the utterances per split."""
    rows = read_partition(Path(an4), "train")
    dev_spks = set(sorted({r[1] for r in rows})[::DEV_EVERY])
    (out / "clips").mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[str]] = {"train": [], "dev": []}
    jobs = []
    for k, (utt, spk, wav, words, _) in enumerate(sorted(rows)):
        clip = f"common_voice_en_{1000000 + k}.mp3"
        jobs.append((wav, str(out / "clips" / clip)))
        client = hashlib.sha512(spk.encode()).hexdigest()
        sid = hashlib.sha256(words.encode()).hexdigest()
        fields = [client, clip, sid, sentence(words, k), "", "2", "0", "", "", "", "", "en", ""]
        tables["dev" if spk in dev_spks else "train"].append("\t".join(fields))
    with ProcessPoolExecutor(nj) as pool:
        list(pool.map(write_clip, jobs, chunksize=16))
    for split, lines in tables.items():
        (out / f"{split}.tsv").write_text("\t".join(COLUMNS) + "\n" + "".join(f"{x}\n" for x in lines))
    return {s: len(x) for s, x in tables.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("an4", type=Path, help="AN4 corpus root (etc/, wav/)")
    p.add_argument("out", type=Path, help="folder for the Common Voice layout")
    p.add_argument("--nj", type=int, default=1, help="processes encoding MP3s")
    args = p.parse_args()
    print(f"{args.out}: {convert(args.an4, args.out, args.nj)}")


if __name__ == "__main__":
    main()
