"""Transcripts as text, JSON, CTM, SRT and WebVTT.

- text: `<audio>\t<words>` per recording (what `asr transcribe` prints by default);
- json: one object per recording: audio, duration, text, words [{word, start, end, confidence}] (seconds);
  on standard output one object per line (JSON Lines), in a file indented;
- ctm: NIST/Kaldi `<audio> 1 <start> <duration> <word> <confidence>` per word;
- srt, vtt: subtitles; words go into one cue until it would pass `max_chars`, last `max_cue_s`, or a pause
  of `max_gap_s` comes.
"""

from __future__ import annotations

import json
import re

from asr.transcribe.align import Word

FORMATS = ("text", "json", "ctm", "srt", "vtt")
EXTENSIONS = {"text": "txt", "json": "json", "ctm": "ctm", "srt": "srt", "vtt": "vtt"}
PER_FILE = ("srt", "vtt")  # formats that hold one recording each


def to_text(transcript) -> str:
    return f"{transcript.audio}\t{transcript.text}\n"


def to_json(transcript, indent: int | None = None) -> str:
    return json.dumps(transcript.to_dict(), ensure_ascii=False, indent=indent) + "\n"


def to_ctm(transcript, channel: str = "1") -> str:
    key = re.sub(r"\s", "_", transcript.audio)
    return "".join(f"{key} {channel} {w.start_s:.2f} {max(w.end_s - w.start_s, 0.0):.2f} {w.word} "
                   f"{w.confidence:.2f}\n" for w in transcript.words)


def cues(words: list[Word], max_chars: int = 42, max_cue_s: float = 5.0, max_gap_s: float = 1.0) -> list[list[Word]]:
    """Group words into subtitle cues."""
    groups: list[list[Word]] = []
    for w in words:
        g = groups[-1] if groups else None
        if (g is None or len(" ".join(x.word for x in g)) + 1 + len(w.word) > max_chars
                or w.end_s - g[0].start_s > max_cue_s or w.start_s - g[-1].end_s > max_gap_s):
            groups.append([w])
        else:
            g.append(w)
    return groups


def timestamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(transcript) -> str:
    return "".join(f"{i}\n{timestamp(g[0].start_s, ',')} --> {timestamp(g[-1].end_s, ',')}\n"
                   f"{' '.join(w.word for w in g)}\n\n" for i, g in enumerate(cues(transcript.words), start=1))


def to_vtt(transcript) -> str:
    return "WEBVTT\n\n" + "".join(f"{timestamp(g[0].start_s, '.')} --> {timestamp(g[-1].end_s, '.')}\n"
                                  f"{' '.join(w.word for w in g)}\n\n" for g in cues(transcript.words))


def render(transcript, fmt: str, to_file: bool = False) -> str:
    """`transcript` in format `fmt`; JSON is indented when it goes to a file of its own."""
    if fmt == "json":
        return to_json(transcript, indent=2 if to_file else None)
    return {"text": to_text, "ctm": to_ctm, "srt": to_srt, "vtt": to_vtt}[fmt](transcript)


def output_names(keys: list[str]) -> list[str]:
    """File names (without extension) for per-recording output files: the audio's name without its extension,
    or with it, or the path with `/` -> `_`, whichever is first unique."""
    def stem(k: str) -> str:
        base = k.rstrip("/").rsplit("/", 1)[-1]
        return "stdin" if k == "-" else base.rsplit(".", 1)[0] if "." in base[1:] else base

    for name in (stem, lambda k: "stdin" if k == "-" else k.rstrip("/").rsplit("/", 1)[-1],
                 lambda k: k.strip("/").replace("/", "_")):
        names = [name(k) for k in keys]
        if len(set(names)) == len(names):
            return names
    return [f"{i:05d}_{n}" for i, n in enumerate(names)]
