"""Stopping on a signal: SIGINT/SIGTERM make the loop save a checkpoint at the end of the step and stop."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

log = logging.getLogger("asr.train")


class TrainingInterrupted(Exception):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint; exit with 128 + signum."""

    def __init__(self, signum: int, checkpoint: Path):
        super().__init__(f"stopped by {signal.Signals(signum).name}; checkpoint saved to {checkpoint}; "
                         "run the same command again to resume")
        self.signum, self.checkpoint = signum, checkpoint


class StopRequest:
    """While active, SIGINT and SIGTERM only set `signum` (the loop saves and stops at the next step);
    a second signal interrupts at once. Previous handlers come back on exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("%s received: saving a checkpoint at the end of this step", signal.Signals(signum).name)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._old.items():
            signal.signal(s, handler)
        self._old.clear()
