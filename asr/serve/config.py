"""The settings of a server: the models, the limits on work and input, and who may call it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from asr.errors import ConfigError


def default_workers() -> int:
    """Worker threads: one per core, at most 4 (each forward pass uses `threads` cores of its own)."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class ServeConfig:
    models: dict[str, str] = field(default_factory=dict)  # name -> model dir or .asr file; the first is the default
    device: str = "cpu"
    workers: int = field(default_factory=default_workers)  # transcription threads
    threads: int = 1  # torch threads per forward pass (0: torch's default)
    max_batch: int = 8  # requests of one model and decoder run through the model together
    max_queue: int = 32  # transcriptions admitted (running and waiting); beyond: 503 + Retry-After
    max_streams: int = 16  # WebSocket sessions open at once; beyond: close code 1013 (try again later)
    max_upload_mb: float = 100.0  # 413 beyond
    max_duration_s: float = 3600.0  # of an upload or a stream; 413 / close code 1009 beyond
    timeout_s: float = 600.0  # per request; 504 beyond, and the work is dropped
    idle_s: float = 60.0  # an upload (408) or a stream (close 1008) that sends nothing this long is dropped
    api_key: str | None = None  # required on every route but /healthz (header or `key` query parameter)
    pause_s: float = 0.5  # streams of a bidirectional model: a pause this long ends a segment
    max_segment_s: float = 20.0  # ... and a segment is cut (at its quietest frame) when it grows this long
    partial_every_s: float = 1.0  # ... partial results of the open segment this often (0: none)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def check(self) -> "ServeConfig":
        if not self.models:
            raise ConfigError("no model to serve: give MODEL or --model NAME=PATH")
        for name, value in (("workers", self.workers), ("max_batch", self.max_batch), ("max_queue", self.max_queue),
                            ("max_streams", self.max_streams)):
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {value}")
        for name, value in (("max_upload_mb", self.max_upload_mb), ("max_duration_s", self.max_duration_s),
                            ("timeout_s", self.timeout_s), ("idle_s", self.idle_s), ("pause_s", self.pause_s),
                            ("max_segment_s", self.max_segment_s)):
            if not value > 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, not {value}")
        return self


def parse_model_specs(positional: str | None, named: list[str]) -> dict[str, str]:
    """MODEL and `--model NAME=PATH` options -> {name: path}; the positional model is named `default`."""
    models: dict[str, str] = {}
    if positional:
        models["default"] = positional
    for spec in named:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--model {spec}: expected NAME=PATH")
        if name.strip() in models:
            raise ConfigError(f"--model {spec}: the name '{name.strip()}' is given twice")
        models[name.strip()] = path.strip()
    return models
