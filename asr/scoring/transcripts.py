"""Read REF/HYP transcripts in Kaldi `text` form (`uttid words...`) or sclite `trn` form (`words... (uttid)`),
and pair them by utterance id, stating what was missing and how it was counted.

The form is detected per file: trn when every line ends with `(id)`, else Kaldi text. Kaldi text goes through
`asr.data.kaldi_files` (line-numbered errors, duplicate keys); a line with an id only is an empty transcript.
A leading UTF-8 byte-order mark is stripped.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from asr.data.kaldi_files import UTF8_BOM, read_table
from asr.errors import DataError

_TRN_LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
MODES = ("all", "present", "strict")


def detect_format(path: str | os.PathLike) -> str:
    """'trn' or 'text' (DataError for a missing, undecodable or empty file)."""
    lines = _read_lines(path)
    nonblank = [ln for ln in lines if ln.strip()]
    if not nonblank:
        raise DataError(f"{path}: empty file (no utterances)")
    return "trn" if all(_TRN_LINE.match(ln) for ln in nonblank) else "text"


def read_transcripts(path: str | os.PathLike, fmt: str = "auto") -> dict[str, str]:
    """Utterance id -> transcript (file order). `fmt`: auto, text or trn."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "text":
        detect_format(path)  # the empty-file message
        return read_table(path)
    if fmt != "trn":
        raise DataError(f"{path}: unknown transcript format '{fmt}' (auto, text or trn)")
    table: dict[str, str] = {}
    lines = _read_lines(path)
    if not any(ln.strip() for ln in lines):
        raise DataError(f"{path}: empty file (no utterances)")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        m = _TRN_LINE.match(line)
        if not m:
            raise DataError(f"{path}:{lineno}: trn line does not end with '(uttid)'")
        utt = m.group("id")
        if utt in table:
            raise DataError(f"{path}:{lineno}: duplicate utterance id '{utt}'")
        table[utt] = " ".join(m.group("words").split())
    return table


def _read_lines(path: str | os.PathLike) -> list[str]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a transcript file") from None
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data[: e.start].count(b"\n") + 1
        raise DataError(f"{path}:{lineno}: not valid UTF-8") from None
    return text.splitlines()


@dataclass
class Pairing:
    """REF/HYP paired by id: `utts` in REF order, with what happened to the ids only one side had."""

    utts: list[str]
    ref: dict[str, str]
    hyp: dict[str, str]
    missing_hyp: list[str] = field(default_factory=list)  # in REF only
    extra_hyp: list[str] = field(default_factory=list)  # in HYP only (never scored: no reference)
    mode: str = "all"

    def missing_note(self) -> dict:
        """Machine-readable account of the unmatched ids, for report.json."""
        counted = {"all": "scored as empty hypotheses (all their reference words are deletions)",
                   "present": "left out of every figure", "strict": "not allowed"}[self.mode]
        return {"mode": self.mode,
                "ref_only": len(self.missing_hyp), "ref_only_ids": self.missing_hyp[:100],
                "ref_only_counted_as": counted,
                "hyp_only": len(self.extra_hyp), "hyp_only_ids": self.extra_hyp[:100],
                "hyp_only_counted_as": "ignored: no reference to score against"}

    def warnings(self) -> list[str]:
        out = []
        if self.missing_hyp:
            how = ("scored as empty hypotheses (all deletions)" if self.mode == "all"
                   else "left out of the figures")
            out.append(f"{len(self.missing_hyp)} utterance(s) in REF have no hypothesis, {how}: "
                       + _preview(self.missing_hyp))
        if self.extra_hyp:
            out.append(f"{len(self.extra_hyp)} utterance(s) in HYP are not in REF, ignored: "
                       + _preview(self.extra_hyp))
        return out


def _preview(ids: list[str], n: int = 5) -> str:
    return " ".join(ids[:n]) + (f" ... (+{len(ids) - n})" if len(ids) > n else "")


def pair(ref: dict[str, str], hyp: dict[str, str], ref_path: str | os.PathLike = "REF",
         hyp_path: str | os.PathLike = "HYP", mode: str = "all") -> Pairing:
    """Pair by utterance id. mode (as Kaldi compute-wer --mode): all = REF-only ids count as empty hypotheses,
    present = they are skipped, strict = they are an error. HYP-only ids are never scored."""
    if mode not in MODES:
        raise DataError(f"scoring mode must be one of {', '.join(MODES)}, not '{mode}'")
    missing = [u for u in ref if u not in hyp]
    extra = [u for u in hyp if u not in ref]
    if len(missing) == len(ref):
        raise DataError(f"{hyp_path}: no utterance id in common with {ref_path} "
                        f"(e.g. REF '{next(iter(ref))}', HYP '{next(iter(hyp))}')")
    if mode == "strict" and (missing or extra):
        parts = []
        if missing:
            parts.append(f"{len(missing)} id(s) only in {ref_path} (first '{missing[0]}')")
        if extra:
            parts.append(f"{len(extra)} id(s) only in {hyp_path} (first '{extra[0]}')")
        raise DataError("mismatched utterances: " + "; ".join(parts))
    utts = list(ref) if mode == "all" else [u for u in ref if u in hyp]
    return Pairing(utts, ref, hyp, missing, extra, mode)
