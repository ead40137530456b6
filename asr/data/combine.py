"""Combine data dirs into one (Kaldi's `utils/combine_data.sh`), never losing an utterance to an id clash.

Each source is a data dir, optionally `DIR:N` to repeat it N times (oversampling a small corpus): copy k of N
gets the prefix `repK-` on its utterance, speaker and recording ids. When an id (utterance, speaker or
recording) of one source is also an id of another, every source's ids get its own prefix, `<name>-`, the
source dir's name (made unique: `train-`, `train_2-`); `prefix="always"` prefixes without a clash,
`prefix="never"` makes a clash an error. Speakers are prefixed with their utterances, so speaker ids stay
prefixes of utterance ids (Kaldi's sort rule).

wav.scp, utt2spk, text and utt2dur are combined (a source without utt2dur gets it measured from its audio), and
segments when any source has them (a source without them gets whole-recording segments, `utt rec 0 -1`, as
combine_data.sh does). Features are not combined: run `asr feats` on the result (one sample rate for all).
The result is sorted and validated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from asr.audio import duration_s
from asr.data.datadir import FEATURE_FILES, DataDir, Segment
from asr.data.validate import assert_valid_data_dir, require_valid_data_dir
from asr.errors import AudioError, DataError

PREFIX_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class Source:
    """One source of a combination: a data dir and how many copies of it."""

    path: Path
    copies: int = 1

    @classmethod
    def parse(cls, spec: str) -> "Source":
        """`DIR` or `DIR:N` (a path that itself ends in `:digits` is taken whole when it exists)."""
        m = re.fullmatch(r"(.+):(\d+)", spec)
        if m is None or Path(spec).exists():
            return cls(Path(spec))
        if int(m[2]) < 1:
            raise DataError(f"{spec}: the number of copies must be at least 1")
        return cls(Path(m[1]), int(m[2]))


@dataclass
class CombineSummary:
    """What `combine_data_dirs` did: per source (`DIR` or `DIR:N`), its utterances (all copies) and its prefix."""

    out: Path
    sources: list[tuple[str, int, str]]

    def __str__(self) -> str:
        parts = [f"{n} from {src}" + (f" (ids prefixed '{p}')" if p else "") for src, n, p in self.sources]
        return f"{self.out}: {sum(n for _, n, _ in self.sources)} utterances: " + ", ".join(parts)


def copy_with_prefix(data: DataDir, p: str) -> DataDir:
    """`data` with prefix `p` on every utterance, speaker and recording id."""
    if not p:
        return data
    out = DataDir(wav_scp={p + r: w for r, w in data.wav_scp.items()},
                  utt2spk={p + u: p + s for u, s in data.utt2spk.items()})
    if data.text is not None:
        out.text = {p + u: t for u, t in data.text.items()}
    if data.segments is not None:
        out.segments = {p + u: Segment(p + s.recording_id, s.start_s, s.end_s) for u, s in data.segments.items()}
    if data.utt2dur is not None:
        out.utt2dur = {p + u: d for u, d in data.utt2dur.items()}
    return out


def _ids(data: DataDir) -> dict[str, set[str]]:
    return {"utterance": set(data.utt2spk), "speaker": set(data.utt2spk.values()), "recording": set(data.wav_scp)}


def _clash(copies: list[list[DataDir]], names: list[str]) -> str | None:
    """A description of the first id shared by two sources, else None."""
    owner: dict[tuple[str, str], int] = {}
    for i, datas in enumerate(copies):
        for data in datas:
            for kind, ids in _ids(data).items():
                for x in sorted(ids):
                    j = owner.setdefault((kind, x), i)
                    if j != i:
                        return f"{kind} id '{x}' is in both {names[j]} and {names[i]}"
    return None


def _source_names(sources: list[Source]) -> list[str]:
    """Prefix names: each dir's name, made a valid id part and unique (`train`, `train_2`)."""
    base = [re.sub(r"[^\w.+-]", "_", s.path.resolve().name) or "data" for s in sources]
    names, seen = [], {}
    for b in base:
        seen[b] = seen.get(b, 0) + 1
        names.append(b if seen[b] == 1 else f"{b}_{seen[b]}")
    return names


def _with_utt2dur(data: DataDir) -> DataDir:
    """Measure utt2dur from the audio when the dir has none (segments: their span; end -1: to the end)."""
    if data.utt2dur is not None:
        return data
    data.utt2dur = {}
    lengths: dict[str, float] = {}
    for utt in data.utt2spk:
        rec = data.segments[utt].recording_id if data.segments is not None else utt
        try:
            if rec not in lengths:
                lengths[rec] = duration_s(data.wav_scp[rec])
        except AudioError as e:
            raise DataError(f"{data.path}: cannot measure utt2dur: {e} (run `asr data fix {data.path}`)") from None
        seg = data.segments[utt] if data.segments is not None else None
        data.utt2dur[utt] = (lengths[rec] if seg is None or seg.end_s < 0 else seg.end_s) - (seg.start_s if seg else 0)
    return data


def combine_data_dirs(out: str | os.PathLike, sources: list[str | Source], prefix: str = "auto") -> CombineSummary:
    """Write data dir `out`: the utterances of every source (see the module docstring). Returns a summary."""
    out = Path(out)
    if prefix not in PREFIX_MODES:
        raise DataError(f"prefix mode '{prefix}': expected one of {', '.join(PREFIX_MODES)}")
    sources = [s if isinstance(s, Source) else Source.parse(s) for s in sources]
    if not sources:
        raise DataError("no data dirs to combine")
    for s in sources:
        if s.path.resolve() == out.resolve():
            raise DataError(f"{out}: the combined data dir must differ from its sources")
        require_valid_data_dir(s.path)
    datas = [DataDir.load(s.path) for s in sources]
    with_text = [s.path for s, d in zip(sources, datas) if d.text is not None]
    if with_text and len(with_text) < len(sources):
        lacking = next(s.path for s, d in zip(sources, datas) if d.text is None)
        raise DataError(f"{lacking}: has no text while {with_text[0]} has; combine dirs that all have transcripts "
                        "or none")
    any_segments = any(d.segments is not None for d in datas)
    for d in datas:
        _with_utt2dur(d)
        if any_segments and d.segments is None:  # as combine_data.sh: whole-recording segments
            d.segments = {u: Segment(u, 0.0, -1.0) for u in d.utt2spk}
    copies = [[copy_with_prefix(d, f"rep{k}-" if s.copies > 1 else "") for k in range(1, s.copies + 1)]
              for s, d in zip(sources, datas)]
    names = [str(s.path) + (f":{s.copies}" if s.copies > 1 else "") for s in sources]
    clash = _clash(copies, names)
    if clash and prefix == "never":
        raise DataError(f"cannot combine without prefixes: {clash}")
    prefixes = [f"{n}-" for n in _source_names(sources)] if clash or prefix == "always" else [""] * len(sources)
    copies = [[copy_with_prefix(d, p) for d in datas_i] for p, datas_i in zip(prefixes, copies)]
    clash = _clash(copies, names)
    if clash:  # a source's prefixed ids meet another's (names like `a` and `a-b`)
        raise DataError(f"ids clash even with source prefixes: {clash}; rename a source dir")
    combined = DataDir(text={} if with_text else None, segments={} if any_segments else None, utt2dur={})
    for data in (d for datas_i in copies for d in datas_i):
        combined.wav_scp.update(data.wav_scp)
        combined.utt2spk.update(data.utt2spk)
        for name in ("text", "segments", "utt2dur"):
            if getattr(combined, name) is not None:
                getattr(combined, name).update(getattr(data, name))
    out.mkdir(parents=True, exist_ok=True)
    for stale in (*FEATURE_FILES, "segments", "text"):  # an earlier run's
        (out / stale).unlink(missing_ok=True)
    combined.save(out)
    assert_valid_data_dir(out, need_text=bool(with_text))
    return CombineSummary(out, [(n, sum(len(d.utt2spk) for d in c), p) for n, c, p in zip(names, copies, prefixes)])
