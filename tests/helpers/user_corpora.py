"""Small user corpora in every layout `asr prepare` reads, made from the shared FSDD recordings (a digit word each,
8 kHz): written as WAV/FLAC/MP3/Opus/Vorbis at other rates and channel counts with soundfile."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import corpus_path

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III"),
           ".opus": ("OGG", "OPUS"), ".ogg": ("OGG", "VORBIS")}


def fsdd_clip(digit: int, speaker: str = "george", index: int = 0) -> np.ndarray:
    """An FSDD recording (8 kHz float32 mono); skips the test when the corpus is not there."""
    root = corpus_path("fsdd")
    if root is None:
        pytest.skip("fsdd corpus not found (set ASR_CORPORA)")
    x, sr = sf.read(root / "recordings" / f"{digit}_{speaker}_{index}.wav", dtype="float32")
    assert sr == 8000
    return x


def write_audio(path: Path, x: np.ndarray, rate: int = 8000, channels: int = 1) -> float:
    """Write 8 kHz samples `x` at `rate` Hz, `channels` channels, in the format of the suffix; returns the
    duration in seconds."""
    from asr.audio import resample

    y = resample(x, 8000, rate) if rate != 8000 else x
    y = np.clip(y, -0.99, 0.99)
    if channels > 1:
        y = np.stack([y * (0.5 + 0.5 * c / channels) for c in range(channels)], axis=1)
    fmt, subtype = FORMATS[path.suffix]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, rate, format=fmt, subtype=subtype)
    return len(y) / rate


def write_table(path: Path, header: list[str], rows: list[list], delimiter: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        if delimiter == "\t":
            f.write("".join("\t".join(map(str, r)) + "\n" for r in [header, *rows]))
        else:
            w = csv.writer(f, delimiter=delimiter, lineterminator="\n")
            w.writerows([header, *rows])


def write_jsonl(path: Path, objects: list[dict]) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")


CV_HEADER = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "variant",
             "locale", "segment"]  # Common Voice 13-16 (later releases add sentence_id, sentence_domain)


def cv_row(client: str, clip: str, sentence: str) -> list[str]:
    return [client, clip, sentence, "2", "0", "twenties", "male_masculine", "", "", "en", ""]
