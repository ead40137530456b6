"""Speed perturbation of a data dir (Kaldi's `utils/data/perturb_data_dir_speed_3way.sh`), and copies at a lower
sample rate (narrowband copies of wideband speech, for mixed-bandwidth training).

Each factor F != 1 gives a copy whose utterance, speaker and recording ids get the prefix `spF-` (`sp0.9-`),
whose wav.scp entries get Kaldi's sox stage (`CMD | sox -t wav - -t wav - speed F |`, or
`sox -t wav FILE -t wav - speed F |` for a file), and whose durations and segment times are divided by F.
Factor 1.0 is the source itself, ids unchanged. The copies are combined into one data dir.

A copy at rate R (`asr data resample`) gets the prefix `rateR-` (`rate8000-`) and sox's `rate R` stage instead;
its durations are unchanged. Features made at the original rate from such a copy (`asr feats` upsamples it back)
have the narrowband copy's empty upper band, as a telephone or 8 kHz corpus has.

wav.scp stays readable by Kaldi (which runs the sox pipes); `asr.audio` recognises the trailing speed and rate
stages and resamples natively, so sox is not needed here. Features are not copied: run `asr feats` on the result.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from asr.audio import is_pipe
from asr.data.datadir import FEATURE_FILES, DataDir, Segment
from asr.data.validate import assert_valid_data_dir, require_valid_data_dir
from asr.errors import DataError


def speed_prefix(factor: float) -> str:
    """`sp0.9-` for 0.9: the id prefix Kaldi gives a copy at that speed."""
    return f"sp{factor:g}-"


def sox_wav(value: str, effect: str) -> str:
    """A wav.scp value with a sox stage applying `effect` ("speed 0.9", "rate 8000") appended."""
    value = value.strip()
    if is_pipe(value):
        return f"{value} sox -t wav - -t wav - {effect} |"
    return f"sox -t wav {shlex.quote(value)} -t wav - {effect} |"


def speed_wav(value: str, factor: float) -> str:
    """A wav.scp value with Kaldi's sox speed stage appended."""
    return sox_wav(value, f"speed {factor:g}")


def _copy(data: DataDir, p: str, effect: str, factor: float) -> DataDir:
    """`data` with ids prefixed `p`, `effect` appended to every recording and times divided by `factor`."""
    out = DataDir(wav_scp={p + r: sox_wav(w, effect) for r, w in data.wav_scp.items()},
                  utt2spk={p + u: p + s for u, s in data.utt2spk.items()})
    if data.text is not None:
        out.text = {p + u: t for u, t in data.text.items()}
    if data.segments is not None:
        out.segments = {p + u: Segment(p + s.recording_id, s.start_s / factor,
                                       s.end_s / factor if s.end_s >= 0 else -1)
                        for u, s in data.segments.items()}
    if data.utt2dur is not None:
        out.utt2dur = {p + u: d / factor for u, d in data.utt2dur.items()}
    return out


def speed_copy(data: DataDir, factor: float) -> DataDir:
    """One data dir at speed `factor` (ids prefixed unless factor is 1)."""
    if factor <= 0:
        raise DataError(f"speed factor must be positive, got {factor}")
    if factor == 1.0:
        return data
    return _copy(data, speed_prefix(factor), f"speed {factor:g}", factor)


def rate_copy(data: DataDir, rate: int) -> DataDir:
    """`data` resampled to `rate` Hz (ids prefixed `rateR-`; durations unchanged)."""
    if rate <= 0:
        raise DataError(f"sample rate must be positive, got {rate}")
    return _copy(data, f"rate{rate}-", f"rate {rate}", 1.0)


def resample_data_dir(src: str | os.PathLike, dst: str | os.PathLike, rate: int) -> Path:
    """Write `dst`: data dir `src` with every recording resampled to `rate` Hz (see the module doc)."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise DataError(f"{dst}: the resampled data dir must differ from the source")
    require_valid_data_dir(src)
    data = DataDir.load(src)
    _save(rate_copy(data, rate), dst, data.text is not None)
    return dst


def _save(data: DataDir, dst: Path, need_text: bool) -> None:
    data.save(dst)
    for stale in FEATURE_FILES:  # features of another dir
        (dst / stale).unlink(missing_ok=True)
    assert_valid_data_dir(dst, need_text=need_text)


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
    _save(combined, dst, data.text is not None)
    return dst
