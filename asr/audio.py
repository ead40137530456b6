"""Audio input: files (wav/flac/ogg/mp3 through libsndfile), headerless raw PCM, and Kaldi pipes.

Two kinds of Kaldi pipe are read without running a process: sox's raw-to-wav conversion (AN4) and a trailing
`sox ... speed F` or `sox ... rate R` stage (speed perturbation and narrowband copies, asr.data.perturb), done as
sox does them, by resampling.

Every loader returns float32 mono samples in [-1, 1] at the requested sample rate, shape (num_samples,).
Anything that cannot be read raises AudioError with the file named.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from asr.errors import AudioError


@dataclass(frozen=True)
class RawFormat:
    """Headerless PCM: what the file does not say about itself (AN4: 16 kHz, PCM_16, big-endian)."""

    sample_rate: int
    subtype: str = "PCM_16"
    endian: str = "LITTLE"  # LITTLE | BIG
    channels: int = 1


def is_pipe(spec: str) -> bool:
    return spec.rstrip().endswith("|")


def read_audio(spec: str, raw: RawFormat | None = None) -> tuple[np.ndarray, int]:
    """Read a wav.scp value (path or `command |`) as it is: float32 (frames, channels) and its rate."""
    spec = spec.strip()
    if is_pipe(spec):
        stage = sox_effect_stage(spec)
        if stage is not None:  # a speed or rate stage: read the input natively, resample as sox would
            inner, effect, value = stage
            data, sr = read_audio(inner, raw)
            if effect == "speed":
                return speed_perturb(data, sr, value), sr
            return resample_frames(data, sr, int(value)), int(value)
        sox_raw = _sox_raw_input(spec)
        if sox_raw is not None:  # a sox raw->wav pipe: read its input file natively
            return read_audio(_sox_raw_input_path(spec), sox_raw)
        cmd = spec[:-1].strip()
        proc = subprocess.run(cmd, shell=True, capture_output=True)
        if proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise AudioError(f"{cmd}: pipe failed with exit {proc.returncode}" + (f": {msg[-1]}" if msg else ""),
                             "pipe failed")
        source: object = io.BytesIO(proc.stdout)
        name = cmd
    else:
        source = name = spec
        if not os.path.isfile(spec):
            raise AudioError(f"{spec}: no such audio file", "missing file")
        if os.path.getsize(spec) == 0:
            raise AudioError(f"{spec}: empty audio file", "empty file")
    try:
        if raw is not None and raw.subtype == "PCM_16" and source is spec:
            data, sr = _read_pcm16(spec, raw), raw.sample_rate
        elif raw is not None:
            data, sr = sf.read(source, dtype="float32", always_2d=True, format="RAW", subtype=raw.subtype,
                               endian=raw.endian, samplerate=raw.sample_rate, channels=raw.channels)
        else:
            with sf.SoundFile(source) as f:
                data, sr = f.read(dtype="float32", always_2d=True), f.samplerate
                cut = truncation(f.extra_info) if source is spec else None  # pipes: length unknown
            if cut:
                raise AudioError(f"{name}: truncated file: its header promises {cut[0]} bytes of audio, "
                                 f"the file holds {cut[1]}", "truncated file")
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"{name}: cannot decode audio: {e}", "not audio") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: audio has no samples", "no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: audio contains NaN or infinite samples", "NaN samples")
    return data, int(sr)


def _read_pcm16(path: str, raw: RawFormat) -> np.ndarray:
    """Headerless 16-bit PCM as libsndfile reads it ((frames, channels) float32, x / 32768), 5x faster."""
    pcm = np.fromfile(path, dtype=">i2" if raw.endian == "BIG" else "<i2")
    frames = len(pcm) // raw.channels
    return pcm[:frames * raw.channels].reshape(frames, raw.channels).astype(np.float32) * np.float32(1 / 32768)


def load_audio(spec: str, sample_rate: int | None = None, start_s: float = 0.0, end_s: float | None = None,
               raw: RawFormat | None = None, resample_ok: bool = True) -> np.ndarray:
    """Mono float32 samples of `spec` (path or pipe), cut to [start_s, end_s), resampled to `sample_rate`
    (`resample_ok=False`: a recording at another rate is an AudioError, as Kaldi's compute-fbank-feats)."""
    return load_audio_as_recorded(spec, sample_rate, start_s, end_s, raw, resample_ok)[0]


def load_audio_as_recorded(spec: str, sample_rate: int | None = None, start_s: float = 0.0,
                           end_s: float | None = None, raw: RawFormat | None = None,
                           resample_ok: bool = True) -> tuple[np.ndarray, int, int]:
    """`load_audio`, with the recording's own sample rate and channel count: (samples, rate, channels)."""
    data, sr = read_audio(spec, raw)
    if not resample_ok and sample_rate is not None and sr != sample_rate:
        raise AudioError(f"{spec}: sample rate {sr} Hz, expected {sample_rate} Hz", "wrong sample rate")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if end_s is not None and end_s < 0:  # Kaldi segments: end -1 = to the end of the recording
        end_s = None
    if start_s or end_s is not None:
        a = int(round(start_s * sr))
        b = len(mono) if end_s is None else int(round(end_s * sr))
        if a < 0 or a >= len(mono) or b <= a:
            raise AudioError(f"{spec}: segment {start_s:.2f}-{'end' if end_s is None else f'{end_s:.2f}'} s "
                             f"lies outside the recording ({len(mono) / sr:.2f} s)", "segment outside recording")
        mono = mono[a:b]
    if sample_rate is not None and sr != sample_rate:
        mono = resample(mono, sr, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32), sr, data.shape[1]


# libsndfile reads a WAV whose data chunk is cut short without complaint; its log says `data : N (should be M)`.
_DATA_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def truncation(extra_info: str) -> tuple[int, int] | None:
    """(bytes the header promises, bytes present) of a truncated WAV file, else None."""
    m = _DATA_CHUNK.search(extra_info or "")
    if m is None:
        return None
    promised, present = int(m[1]), int(m[2])
    # 0 and ~4 GiB are streaming headers (length unknown when written, e.g. by `sox ... -t wav -`)
    return (promised, present) if 0 < promised < 0x7FFFFFFF and present < promised else None


def resample(samples: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Band-limited sinc resampling (torchaudio's)."""
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(samples), orig_sr, new_sr).numpy()


def duration_s(spec: str, raw: RawFormat | None = None) -> float:
    """Length of a recording in seconds (reads the header when it can)."""
    spec = spec.strip()
    if not is_pipe(spec) and raw is None:
        try:
            info = sf.info(spec)
            return info.frames / info.samplerate
        except (sf.LibsndfileError, RuntimeError):
            pass
    data, sr = read_audio(spec, raw)
    return data.shape[0] / sr


# Kaldi's speed perturbation (utils/data/perturb_data_dir_speed.sh) appends a sox stage to a pipe, or wraps a
# file:   CMD | sox -t wav - -t wav - speed F |      sox -t wav FILE -t wav - speed F |
# sox's `speed F` is resampling: the samples are taken as recorded at F * rate and resampled to rate, so the
# length becomes 1/F of the original (pitch and tempo both change). We do the same with torchaudio's resampler.
# A narrowband copy (asr.data.perturb.rate_copy) has the same form with sox's `rate R`: resampled to R Hz.
_EFFECT = r"(?P<effect>speed|rate)\s+(?P<f>\S+)\s*\|$"
_EFFECT_TAIL = re.compile(r"^(?P<head>.*\|)\s*sox\s+-t\s+wav\s+-\s+-t\s+wav\s+-\s+" + _EFFECT)
_EFFECT_FILE = re.compile(r"^sox\s+-t\s+wav\s+(?P<path>\S+)\s+-t\s+wav\s+-\s+" + _EFFECT)


def sox_effect_stage(spec: str) -> tuple[str, str, float] | None:
    """(inner wav.scp value, "speed" or "rate", its value) when `spec` ends in a `sox ... speed F` or
    `sox ... rate R` stage, else None."""
    spec = spec.strip()
    m = _EFFECT_TAIL.match(spec)
    inner = m["head"].strip() if m else None
    if m is None:
        m = _EFFECT_FILE.match(spec)
        if m is None:
            return None
        inner = shlex.split(m["path"])[0]
    try:
        value = float(m["f"])
    except ValueError:
        return None
    if m["effect"] == "rate" and value != int(value):
        return None
    return (inner, m["effect"], value) if value > 0 else None


def resample_frames(data: np.ndarray, sample_rate: int, new_rate: int) -> np.ndarray:
    """(frames, channels) samples at `sample_rate` resampled to `new_rate` (sox's `rate`)."""
    if new_rate == sample_rate:
        return data
    return resample(np.ascontiguousarray(data.T), sample_rate, new_rate).T.copy()


def speed_perturb(data: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """sox `speed factor` of (frames, channels) samples at `sample_rate`: length becomes frames / factor."""
    if factor == 1.0:
        return data
    return resample_frames(data, int(round(sample_rate * factor)), sample_rate)


# Kaldi recipes turn headerless PCM into WAV with a sox pipe, e.g. AN4:
#   sox -t raw -r 16000 -e signed-integer -b 16 -B -c 1 FILE.raw -t wav - |
# We read such a pipe's input file directly (same samples, no process per utterance).
def _sox_raw_input(spec: str) -> RawFormat | None:
    args = _sox_args(spec)
    if args is None:
        return None
    opts, endian, i = {"-r": "16000", "-b": "16", "-c": "1", "-e": "signed-integer"}, "LITTLE", 3
    while i < len(args) - 4:  # the options between `sox -t raw` and `FILE -t wav -`
        if args[i] in ("-B", "-L"):
            endian, i = ("BIG" if args[i] == "-B" else "LITTLE"), i + 1
        elif args[i] in opts and i + 1 < len(args) - 4:
            opts[args[i]], i = args[i + 1], i + 2
        else:
            return None  # not understood: let sox itself run
    try:
        r = opts["-r"]
        rate = int(float(r.rstrip("k")) * (1000 if r.endswith("k") else 1))
        bits, channels = int(opts["-b"]), int(opts["-c"])
    except ValueError:
        return None
    if opts["-e"] not in ("signed-integer", "signed") or bits not in (16, 24, 32):
        return None
    return RawFormat(rate, f"PCM_{bits}", endian, channels)


def _sox_args(spec: str) -> list[str] | None:
    cmd = spec.rstrip()[:-1]
    try:  # without quotes, escapes or comments shlex splits as str.split does, 20x slower
        args = cmd.split() if not any(c in cmd for c in "'\"\\#") else shlex.split(cmd)
    except ValueError:
        return None
    if len(args) < 7 or os.path.basename(args[0]) != "sox":
        return None
    if args[1:3] != ["-t", "raw"] or args[-3:] != ["-t", "wav", "-"]:
        return None
    return args


def _sox_raw_input_path(spec: str) -> str:
    args = _sox_args(spec)
    return args[-4] if args else ""


MAX_CHANNELS = 32  # an array dim this small may be channels; longer ones are time


def as_samples(audio, name: str = "<array>") -> np.ndarray:
    """Samples in memory -> float32 (frames, channels) in [-1, 1]. Takes numpy arrays and torch tensors (or
    anything with `.numpy()`), lists of numbers; mono (N,), (N, C) or channel-first (C, N) with C <= 32.
    Integer PCM is scaled by its type's range (int16 / 32768, int32 / 2**31, uint8 around 128); integers of a
    wider type (a list of ints) by the narrowest of int16 and int32 that holds them. AudioError for what cannot be
    audio (empty, NaN, text, objects, complex, three dims)."""
    if hasattr(audio, "detach"):  # a torch tensor: on the CPU, out of autograd
        audio = audio.detach().cpu()
        audio = audio.float() if str(audio.dtype) == "torch.bfloat16" else audio
    if hasattr(audio, "numpy") and not isinstance(audio, np.ndarray):
        audio = audio.numpy()
    try:
        data = np.asarray(audio)
    except (ValueError, TypeError) as e:  # ragged lists
        raise AudioError(f"{name}: cannot be audio: {str(e).splitlines()[0]}", "not audio") from None
    kind = data.dtype.kind
    if kind not in "iuf":
        what = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "O": "objects"}.get(kind, data.dtype)
        raise AudioError(f"{name}: cannot be audio: an array of {what} (expected numbers: int16, int32 or float "
                         f"samples)", "not audio")
    if data.ndim > 2:
        data = data.squeeze()
    if data.ndim == 0 or data.ndim > 2:
        raise AudioError(f"{name}: cannot be audio: shape {tuple(np.shape(audio))} (expected (samples,), "
                         f"(samples, channels) or (channels, samples))", "not audio")
    if data.size == 0:
        raise AudioError(f"{name}: audio has no samples", "no samples")
    if data.ndim == 1:
        data = data[:, None]
    elif data.shape[0] <= MAX_CHANNELS and data.shape[1] > data.shape[0]:
        data = data.T  # channels first (torchaudio's layout)
    elif data.shape[1] > MAX_CHANNELS:
        raise AudioError(f"{name}: cannot be audio: shape {data.shape}: which is time? (expected (samples,), "
                         f"(samples, channels) or (channels, samples) with at most {MAX_CHANNELS} channels)",
                         "not audio")
    if kind == "f":
        with np.errstate(over="ignore"):
            data = np.ascontiguousarray(data, dtype=np.float32)
        if not np.isfinite(data).all():
            raise AudioError(f"{name}: audio contains NaN or infinite samples (or beyond float32)", "NaN samples")
        return data
    if kind == "u":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        return np.ascontiguousarray((data.astype(np.float64) - half) / half, dtype=np.float32)
    bits = 8 * data.dtype.itemsize
    if bits > 32:  # int64: a list of ints, or widened PCM
        peak = int(np.abs(data).max())
        bits = 16 if peak <= 32768 else 32 if peak <= 2 ** 31 else 0
        if not bits:
            raise AudioError(f"{name}: cannot be audio: integer samples up to {peak}, beyond 32-bit PCM",
                             "not audio")
    return np.ascontiguousarray(data.astype(np.float64) / 2 ** (bits - 1), dtype=np.float32)
