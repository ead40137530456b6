"""The work of `asr transcribe`: arguments -> recordings -> transcripts on stdout or in files, with a
progress bar for many or long recordings and the real-time factor on request. One bad recording gets one
error line and the rest are still transcribed; the return value is the number that failed."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from asr.errors import ConfigError
from asr.fileio import atomic_write_text, check_output_path
from asr.transcribe.formats import EXTENSIONS, FORMATS, PER_FILE, output_names, render
from asr.transcribe.inputs import AudioInput
from asr.transcribe.transcriber import Failure, Transcriber, Transcript

PROGRESS_MIN_S = 60.0  # show the bar (auto mode) for more than one recording or one longer than this


@dataclass
class OutputSpec:
    formats: list[str]
    output_dir: Path | None = None


def parse_formats(spec: str, output_dir: Path | None, num_inputs: int) -> OutputSpec:
    formats = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--format {spec}: choose from {', '.join(FORMATS)}")
    if output_dir is not None:
        check_output_path(output_dir, folder=True, what="--output-dir")
    else:
        if len(formats) > 1:
            raise ConfigError(f"--format {spec}: several formats need --output-dir")
        if formats[0] in PER_FILE and num_inputs > 1:
            raise ConfigError(f"--format {formats[0]} holds one recording: give --output-dir for {num_inputs} "
                              f"recordings")
    return OutputSpec(formats, output_dir)


def known_duration_s(inputs: list[AudioInput]) -> float | None:
    """Total length from the file headers, or None when some cannot be known cheaply."""
    total = 0.0
    for item in inputs:
        if item.error:
            continue
        try:
            info = sf.info(item.spec)
        except Exception:  # noqa: BLE001 - stdin, pipes, unreadable files: no total, the bar still counts
            return None
        total += info.frames / info.samplerate
    return total


def run_transcribe(transcriber: Transcriber, inputs: list[AudioInput], out: OutputSpec,
                   progress: bool | None = None, verbose: bool = False) -> int:
    names = output_names([i.key for i in inputs])  # results come one per input, in order
    if progress is None:
        progress = sys.stderr.isatty() and len(inputs) > 0
        total = known_duration_s(inputs) if progress else None
        progress = progress and (len(inputs) > 1 or total is None or total > PROGRESS_MIN_S)
    else:
        total = known_duration_s(inputs) if progress else None
    bar = tqdm(total=total, unit="s", disable=not progress, desc="transcribe",
               bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}]"
               if total is not None else "{desc}: {n:.1f} s of audio [{elapsed}]")

    def say(line: str, err: bool = False) -> None:
        tqdm.write(line, file=sys.stderr if err else sys.stdout, end="")

    failed, done, audio_s = 0, 0, 0.0
    t0 = time.perf_counter()
    logger, warnings = logging.getLogger("asr.transcribe"), _SayWarnings(say)
    logger.addHandler(warnings)  # the Transcriber's warnings (input level) as `asr: warning:` lines, only there
    propagate, logger.propagate = logger.propagate, False
    try:
        for index, result in enumerate(transcriber.transcribe_many(inputs, progress=bar.update)):
            if isinstance(result, Failure):
                failed += 1
                say(f"asr: error: {result.error}\n", err=True)
                continue
            done, audio_s = done + 1, audio_s + result.duration_s
            write_result(result, out, names[index], say)
            if verbose:
                say(f"asr: {result.audio}: {result.duration_s:.2f} s of audio in {result.elapsed_s:.2f} s, "
                    f"RTF {result.rtf:.4f}\n", err=True)
    finally:
        logger.removeHandler(warnings)
        logger.propagate = propagate
    bar.close()
    if verbose:
        wall = time.perf_counter() - t0
        say(f"asr: {done} transcribed, {failed} failed; {audio_s:.1f} s of audio in {wall:.2f} s: "
            f"RTF {wall / audio_s if audio_s else 0.0:.4f} (model loading excluded)\n", err=True)
    return failed


class _SayWarnings(logging.Handler):
    def __init__(self, say):
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(f"asr: warning: {record.getMessage()}\n", err=True)


def write_result(result: Transcript, out: OutputSpec, name: str, say) -> None:
    """To stdout in the one format, or to `name`.<ext> in the output dir for each format (+ a text line)."""
    if out.output_dir is None:
        say(render(result, out.formats[0]))
        return
    for fmt in out.formats:
        path = out.output_dir / f"{name}.{EXTENSIONS[fmt]}"
        atomic_write_text(path, result.text + "\n" if fmt == "text" else render(result, fmt, to_file=True))
    say(render(result, "text"))
