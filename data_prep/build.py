"""From rows of a user's corpus (audio, transcript, speaker, times) to a validated Kaldi data dir.

Every source reader (folder, manifest, Common Voice, LJSpeech) yields `Item`s and its own problems (malformed
lines); `write_items` checks each item (transcript after normalisation, audio that opens and decodes, declared
duration, unique id), drops and lists the bad ones (`PrepareReport`), and writes `wav.scp text utt2spk spk2utt
utt2dur [segments]` plus `log/prepare_report.txt` and `log/prepare.yaml` (the source, the text normalisation and the
characters it removed, the sample rates found). wav.scp holds absolute paths (`cat 'path' |` for one with white
space, which Kaldi's wav.scp cannot hold): any format libsndfile reads (WAV, FLAC, OGG/Vorbis, Opus, MP3) is read
natively by asr.audio; rates and channel counts may be mixed.

Ids: a speaker id has no white space and no character sorting before `-` (they become `_`), and every utterance id
starts with `<speaker>-`, so the files sort the same by utterance and by speaker (Kaldi's rule).
"""

from __future__ import annotations

import os
import re
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import soundfile as sf

from asr.data.datadir import FILES, DataDir, Segment
from asr.data.validate import KNOWN_FILES
from asr.errors import AudioError, DataError
from asr.fileio import atomic_write_text, quiet_stderr
from data_prep.common import log, write_data_dir
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".aiff", ".aif", ".au", ".caf", ".w64", ".sph",
                  ".nist")
DURATION_TOLERANCE_S = 0.1  # plus 1 %: a declared duration further from the audio's is a problem
MAX_OVERSHOOT_S = 0.5  # a segment may end this far past its recording (Kaldi's extract-segments)
MP3_WHOLE = 0.9  # an MP3 that decodes to less than this part of the length its header gives is truncated


@dataclass
class Item:
    """One utterance as a source names it; `where` is the `file:line` it came from."""

    where: str
    audio: str
    text: str
    speaker: str | None = None  # None: the utterance is its own speaker
    utt: str | None = None  # None: from the audio file's name
    offset: float | None = None  # segment start (s)
    end: float | None = None  # segment end (s)
    duration: float | None = None  # as declared by the source; checked against the audio


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int


def probe_audio(path: str) -> AudioInfo:
    """Open and decode-check an audio file: WAV/FLAC/OGG by their headers (a truncated WAV is caught), MP3 by
    decoding it whole (its header's length is an estimate; one cut short is caught). Raises AudioError naming the
    file."""
    from asr.audio import truncation

    if not os.path.isfile(path):
        raise AudioError(f"{path}: no such audio file", "missing audio")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: empty audio file", "empty audio")
    try:
        with quiet_stderr(), sf.SoundFile(path) as f:  # libmpg123 prints notes on a damaged MP3: the report has it
            sr, ch = f.samplerate, f.channels
            if f.format == "MP3":
                promised, frames = f.frames, _decoded_frames(f)
                if 0 < frames < MP3_WHOLE * promised:
                    raise AudioError(f"{path}: truncated file: its header promises {promised / sr:.2f} s, it decodes "
                                     f"to {frames / sr:.2f} s", "truncated audio")
            else:
                frames = f.frames
                f.read(min(frames, 4096), dtype="float32")
                cut = truncation(f.extra_info)
                if cut:
                    raise AudioError(f"{path}: truncated file: its header promises {cut[0]} bytes of audio, "
                                     f"the file holds {cut[1]}", "truncated audio")
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        why = str(e)
        if "does not exist" in why:  # libsndfile's words for an MP3 with no frame it can decode
            why = "no audio stream that libsndfile can decode"
        raise AudioError(f"{path}: cannot decode audio: {why}", "audio does not decode") from None
    if frames <= 0 or sr <= 0:
        raise AudioError(f"{path}: audio has no samples", "empty audio")
    return AudioInfo(frames / sr, sr, ch)


def _decoded_frames(f: sf.SoundFile) -> int:
    """Frames a decoder really gives (SoundFile.blocks pads to the header's count)."""
    total = 0
    while True:
        n = len(f.read(1 << 16, dtype="float32"))
        if n == 0:
            return total
        total += n



def probe_many(paths: list[str]) -> list:
    """`probe_audio` of each path: its AudioInfo or its AudioError (a job of `probe_all`)."""
    from asr.parallel import tick

    out: list = []
    for p in paths:
        try:
            out.append(probe_audio(p))
        except AudioError as e:
            out.append(e)
        tick()
    return out


def probe_all(paths: list[str], nj: int, log_dir: Path) -> dict:
    """{path: AudioInfo or AudioError} of each distinct path, in `nj` processes, with a progress bar."""
    from tqdm import tqdm

    from asr.parallel import run_jobs

    paths = list(dict.fromkeys(paths))
    if not paths:
        return {}
    nj = max(1, min(nj, len(paths)))
    chunks = [paths[j::nj] for j in range(nj)]
    with tqdm(total=len(paths), desc="checking audio", unit="file", disable=None, leave=False, mininterval=2) as bar:
        results = run_jobs(probe_many, [(c,) for c in chunks], "local", log_dir, "prepare_audio",
                           on_progress=bar.update)
    return {p: r for c, rs in zip(chunks, results) for p, r in zip(c, rs)}


def wav_value(path: str) -> str:
    """The wav.scp value of an audio file: its path, or `cat 'path' |` where the path holds white space (a Kaldi
    wav.scp value with spaces must be a command)."""
    return path if not re.search(r"\s", path) else f"cat {shlex.quote(path)} |"


def speaker_id(name: str) -> str:
    """A Kaldi speaker id: white space and the characters that sort before `-` become `_`."""
    return re.sub(r"[\x00-\x2d\s]", "_", name) or "_"


def utt_id(name: str) -> str:
    return re.sub(r"\s", "_", name)


def file_id(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """An id from an audio path: relative to `root` when under it, without the suffix, `/` -> `-`."""
    p = Path(path)
    if root is not None:
        try:
            p = p.resolve().relative_to(Path(root).resolve())
        except ValueError:
            p = Path(p.name)
    else:
        p = Path(p.name)
    return utt_id("-".join(p.with_suffix("").parts))


def _fmt_time(t: float) -> str:
    return f"{int(round(t * 100)):07d}"


def write_items(items: Iterable[Item], out: str | os.PathLike, report: PrepareReport,
                normalizer: TextNormalizer, kind: str, id_root: str | os.PathLike | None = None,
                nj: int = 1) -> Path:
    """Check every item, write the data dir `out` with the good ones, the report and `log/prepare.yaml`.
    `id_root`: utterance ids without one are made from audio paths relative to it; `nj`: processes that check
    the audio. Raises DataError when no utterance is left (the report is written first)."""
    out = Path(out)
    d = DataDir(text={}, utt2dur={})
    segments: dict[str, Segment] = {}
    first: dict[str, str] = {}
    rates: Counter = Counter()
    items = list(items)
    for it in items:
        it.audio = str(Path(it.audio).resolve())
    infos = probe_all([it.audio for it in items], nj, out / "log")
    for it in items:
        text = normalizer.normalize(it.text)
        if not text:
            report.add(it.where, "empty transcript", f"'{it.text}'" if it.text.strip() else "")
            continue
        path = it.audio
        info = infos[path]
        if isinstance(info, AudioError):
            report.add(it.where, info.reason, str(info))
            continue
        segmented = it.offset is not None or it.end is not None
        start = it.offset or 0.0
        end = it.end if it.end is not None else (start + it.duration if segmented and it.duration is not None
                                                 else None)
        if segmented:
            stop = info.duration if end is None else end
            if start < 0 or stop <= start or stop > info.duration + MAX_OVERSHOOT_S:
                report.add(it.where, "segment outside audio", f"{start:.2f}-{stop:.2f} s of {path} "
                           f"({info.duration:.2f} s)")
                continue
            dur = stop - start
        else:
            dur = info.duration
            if it.duration is not None and abs(it.duration - dur) > DURATION_TOLERANCE_S + 0.01 * dur:
                report.add(it.where, "duration disagrees with audio",
                           f"declared {it.duration:g} s, {path} is {dur:.2f} s")
                continue
        rec = file_id(path, id_root)
        times = f"-{_fmt_time(start)}-{_fmt_time(start + dur)}" if segmented else ""
        base = utt_id(it.utt) if it.utt else rec + times
        spk = speaker_id(it.speaker) if it.speaker else None
        raw = utt_id(it.speaker or "")
        if spk is not None and spk != raw and base.startswith(raw + "-"):  # `spk-01/a.wav` -> `spk_01-a`
            base = spk + base[len(raw):]
        utt = base if spk is None or base.startswith(spk + "-") else f"{spk}-{base}"
        spk = spk or utt
        if utt in first:
            report.add(it.where, "duplicate id", f"'{utt}' was already given at {first[utt]}")
            continue
        spec = wav_value(path)
        if segmented:
            rec_id = rec
            if d.wav_scp.get(rec_id, spec) != spec:  # two audio files with one id: name it by the full path
                rec_id = utt_id(path.strip("/").replace("/", "-"))
            d.wav_scp[rec_id] = spec
            segments[utt] = Segment(rec_id, start, start + dur)
        else:
            d.wav_scp[utt] = spec
        first[utt] = it.where
        d.text[utt], d.utt2spk[utt], d.utt2dur[utt] = text, spk, dur
        rates[info.sample_rate] += 1
        report.kept += 1
    if segments:
        d.segments = segments
        # a recording named by whole-file rows too: those rows become whole-file segments
        for u in [u for u in d.utt2spk if u not in segments]:
            segments[u] = Segment(u, 0.0, d.utt2dur[u])
    report.text_changes = normalizer.summary()
    path = report.write(out)
    if not d.utt2spk:
        raise DataError(f"{report.source}: no utterance could be prepared; the reasons are in {path}")
    for name in (*KNOWN_FILES, *FILES):  # a data dir prepared here before (other utterances, segments, features)
        (out / name).unlink(missing_ok=True)
    write_data_dir(out, d)
    _write_record(out, report, normalizer, kind, rates)
    log.info("%s", report.summary(out))
    return out


def _write_record(out: Path, report: PrepareReport, normalizer: TextNormalizer, kind: str, rates: Counter) -> None:
    import yaml

    record = {"source": report.source, "format": kind, "utterances": report.kept, "dropped": len(report.problems),
              "sample_rates": dict(sorted(rates.items())),
              "text_normalization": normalizer.describe()}
    atomic_write_text(out / "log" / "prepare.yaml", yaml.safe_dump(record, allow_unicode=True, sort_keys=False))
