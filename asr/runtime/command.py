"""`asr transcribe --backend onnx`: print `<file>\t<text>` (or one JSON object a line) per recording, with the
ONNX runtime; nothing imported here needs PyTorch."""

from __future__ import annotations

import json
import sys

from asr.errors import ConfigError
from asr.runtime.transcriber import Failure, OnnxTranscriber

FORMATS = ("text", "json")


def run_onnx_transcribe(model: str, audio: list[str], fmt: str = "text", decoder: str | None = None,
                        beam_size: int | None = None, threads: int = 0, batch_size: int = 4,
                        verbose: bool = False) -> int:
    """Transcribe audio files; returns the number of recordings that failed (each reported on stderr)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt}: the ONNX backend writes {' or '.join(FORMATS)}")
    transcriber = OnnxTranscriber(model, decoder, beam_size, threads, batch_size)
    failed = 0
    for result in transcriber.transcribe_many(audio):
        if isinstance(result, Failure):
            failed += 1
            print(f"asr: error: {result.error}", file=sys.stderr)
            continue
        print(json.dumps(result.to_dict(), ensure_ascii=False) if fmt == "json" else f"{result.audio}\t{result.text}")
        if verbose:
            rtf = result.elapsed_s / result.duration_s if result.duration_s else 0.0
            print(f"{result.audio}: {result.duration_s:.2f} s, real-time factor {rtf:.3f}", file=sys.stderr)
    return failed
