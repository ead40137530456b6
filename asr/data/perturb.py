"""Speed perturbation of a data dir (Kaldi's `utils/data/perturb_data_dir_speed_3way.sh`).

Each factor F != 1 gives a copy whose utterance, speaker and recording ids get the prefix `spF-` (`sp0.9-`),
whose wav.scp entries get Kaldi's sox stage (`CMD | sox -t wav - -t wav - speed F |`, or
`sox -t wav FILE -t wav - speed F |` for a file), and whose durations and segment times are divided by F.
Factor 1.0 is the source itself, ids unchanged. The copies are combined into one data dir.

wav.scp stays readable by Kaldi (which runs the sox pipes); `asr.audio` recognises the trailing speed stage and
resamples natively, so sox is not needed here. Features are not copied: run `asr feats` on the result.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from asr.audio import is_pipe
from asr.data.datadir import DataDir, Segment
from asr.data.validate import assert_valid_data_dir, require_valid_data_dir
from asr.errors import DataError


def speed_prefix(factor: float) -> str:
    """`sp0.9-` for 0.9: the id prefix Kaldi gives a copy at that speed."""
    return f"sp{factor:g}-"


def speed_wav(value: str, factor: float) -> str:
    """A wav.scp value with Kaldi's sox speed stage appended."""
    value = value.strip()
    if is_pipe(value):
        return f"{value} sox -t wav - -t wav - speed {factor:g} |"
    return f"sox -t wav {shlex.quote(value)} -t wav - speed {factor:g} |"


def speed_copy(data: DataDir, factor: float) -> DataDir:
    """One data dir at speed `factor` (ids prefixed unless factor is 1)."""
    if factor <= 0:
        raise DataError(f"speed factor must be positive, got {factor}")
    if factor == 1.0:
        return data
    p = speed_prefix(factor)
    out = DataDir(wav_scp={p + r: speed_wav(w, factor) for r, w in data.wav_scp.items()},
                  utt2spk={p + u: p + s for u, s in data.utt2spk.items()})
    if data.text is not None:
        out.text = {p + u: t for u, t in data.text.items()}
    if data.segments is not None:
        out.segments = {p + u: Segment(p + s.recording_id, s.start_s / factor, s.end_s / factor if s.end_s >= 0 else -1)
                        for u, s in data.segments.items()}
    if data.utt2dur is not None:
        out.utt2dur = {p + u: d / factor for u, d in data.utt2dur.items()}
    return out


def perturb_speed(src: str | os.PathLike, dst: str | os.PathLike, factors=(0.9, 1.0, 1.1)) -> Path:
    """Write `dst`: the copies of data dir `src` at each speed, combined. Returns `dst`."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise DataError(f"{dst}: the perturbed data dir must differ from the source")
    if len(set(factors)) != len(factors) or not factors:
        raise DataError(f"speed factors must be distinct and non-empty, got {list(factors)}")
    require_valid_data_dir(src)
    data = DataDir.load(src)
    combined = DataDir(text={} if data.text is not None else None,
                       segments={} if data.segments is not None else None,
                       utt2dur={} if data.utt2dur is not None else None)
    for f in factors:
        copy = speed_copy(data, f)
        combined.wav_scp.update(copy.wav_scp)
        combined.utt2spk.update(copy.utt2spk)
        for name in ("text", "segments", "utt2dur"):
            if getattr(combined, name) is not None:
                getattr(combined, name).update(getattr(copy, name))
    combined.save(dst)
    for stale in ("feats.scp", "cmvn.scp", "utt2num_frames", "feats.yaml"):  # features of another dir
        (dst / stale).unlink(missing_ok=True)
    assert_valid_data_dir(dst, need_text=data.text is not None)
    return dst
