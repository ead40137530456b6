"""`asr transcribe MODEL - --stream`: audio read from a pipe (or a file) as it arrives, through a stream session
(asr.transcribe.stream), results printed as they come:

- on a terminal, the open segment's partial hypothesis is rewritten in place and each final segment printed on
  its own line;
- otherwise JSON lines: {"partial": "...", "final": false} whenever the partial hypothesis changes, and
  {"text": "...", "words": [{"word", "start", "end", "confidence"}, ...], "final": true} for each final segment.

The input is raw PCM when `--rate` is given (`--sample-format` s16le, s32le or f32le; `--channels`), else a WAV
header (as `arecord -t wav` or `sox -t wav -` write; its data size may be a placeholder: the data runs to the end).
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO

import numpy as np

from asr.errors import AudioError

SAMPLE_FORMATS = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", 1.0)}
READ_BYTES = 3200  # 100 ms of 16 kHz 16-bit mono: a read returns what has arrived, up to this


@dataclass
class PcmFormat:
    sample_rate: int
    sample_format: str = "s16le"
    channels: int = 1

    @property
    def frame_bytes(self) -> int:
        return np.dtype(SAMPLE_FORMATS[self.sample_format][0]).itemsize * self.channels

    def decode(self, data: bytes) -> np.ndarray:
        dtype, scale = SAMPLE_FORMATS[self.sample_format]
        x = np.frombuffer(data, dtype=dtype).astype(np.float32) / scale
        return x.reshape(-1, self.channels).mean(axis=1) if self.channels > 1 else x


def parse_wav_header(data: bytes, name: str) -> tuple[PcmFormat, int] | None:
    """(format, header length) of a WAV stream's start, or None when more bytes are needed."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{name}: not a WAV stream (no RIFF/WAVE header); for raw PCM give --rate "
                         f"(and --sample-format, --channels)")
    pos, fmt = 12, None
    while True:
        if len(data) < pos + 8:
            return None
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk == b"data":
            if fmt is None:
                raise AudioError(f"{name}: WAV data before its fmt chunk (byte {pos})")
            return fmt, pos + 8
        if len(data) < pos + 8 + size:
            return None
        if chunk == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
            if tag == 0xFFFE and size >= 26:
                tag = struct.unpack("<H", data[pos + 32:pos + 34])[0]
            kind = {(1, 16): "s16le", (1, 32): "s32le", (3, 32): "f32le"}.get((tag, bits))
            if kind is None:
                raise AudioError(f"{name}: WAV format {tag} with {bits}-bit samples is not supported for streaming "
                                 f"(16- or 32-bit PCM, 32-bit float)")
            fmt = PcmFormat(rate, kind, channels)
        pos += 8 + size + (size & 1)


def stream_pcm(source: BinaryIO, raw: PcmFormat | None, name: str = "standard input"):
    """Chunks of float32 mono samples and their rate, as the bytes arrive."""
    read = getattr(source, "read1", source.read)
    buf = b""
    fmt = raw
    while True:
        data = read(READ_BYTES)
        if not data:
            break
        buf += data
        if fmt is None:
            parsed = parse_wav_header(buf, name)
            if parsed is None:
                continue
            fmt, skip = parsed
            buf = buf[skip:]
        usable = len(buf) - len(buf) % fmt.frame_bytes
        if usable:
            yield fmt.decode(buf[:usable]), fmt.sample_rate
            buf = buf[usable:]
    if fmt is None and buf:
        raise AudioError(f"{name}: ended inside its WAV header")


def run_stream(transcriber, source: BinaryIO, raw: PcmFormat | None, out: TextIO, tty: bool | None = None,
               endpoint_s: float | None = None, name: str = "standard input") -> None:
    """Stream `source` through a session of `transcriber`, printing partials and finals to `out` until the end
    of the input."""
    tty = out.isatty() if tty is None else tty
    session = transcriber.stream(endpoint_s=endpoint_s)
    shown = ""

    def final(words) -> None:
        nonlocal shown
        if not words:
            return
        text = " ".join(w.word for w in words)
        if tty:
            out.write("\r\033[K" + text + "\n")
        else:
            out.write(json.dumps({"text": text, "words": [w.to_dict() for w in words], "final": True}) + "\n")
        shown = ""
        out.flush()

    for samples, rate in stream_pcm(source, raw, name):
        result = session.accept(samples, rate)
        final(result.words)
        if result.text != shown:
            shown = result.text
            out.write("\r\033[K" + shown if tty else json.dumps(result.to_dict()) + "\n")
            out.flush()
    final(session.finish())
    if tty and shown:
        out.write("\r\033[K")
    out.flush()


def stdin_binary() -> BinaryIO:
    return sys.stdin.buffer


def stream_command(transcriber, audio: list[str], rate: int | None, sample_format: str, channels: int,
                   endpoint_s: float, out: TextIO | None = None) -> None:
    """The work of `asr transcribe MODEL - --stream` (or one file instead of `-`)."""
    from asr.errors import ConfigError

    if len(audio) != 1:
        raise ConfigError("--stream takes one input: `-` (standard input) or one file")
    if sample_format not in SAMPLE_FORMATS:
        raise ConfigError(f"--sample-format {sample_format}: choose from {', '.join(SAMPLE_FORMATS)}")
    if not transcriber.streaming:
        raise ConfigError("--stream needs a streaming model (bidirectional: false or chunk_size; docs/streaming.md)")
    raw = PcmFormat(rate, sample_format, channels) if rate else None
    out = out or sys.stdout
    if audio[0] == "-":
        run_stream(transcriber, stdin_binary(), raw, out, endpoint_s=endpoint_s)
        return
    try:
        source = open(audio[0], "rb")
    except OSError as e:
        raise AudioError(f"{audio[0]}: cannot open: {e.strerror}") from None
    with source:
        run_stream(transcriber, source, raw, out, endpoint_s=endpoint_s, name=audio[0])
