"""The `asr` command: one subcommand per pipeline stage, each a thin layer over the library.

Heavy imports (torch) happen inside the commands so `asr --help` is instant. Errors from the library
(AsrError) are printed on one line and exit non-zero.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List, Optional

import typer

from asr.errors import AsrError

app = typer.Typer(help="lstm-asr: Kaldi-style speech recognition with BiLSTM-CTC.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
data_app = typer.Typer(help="Kaldi data directories: validate, fix, subset, split, info.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"asr: error: {message}", err=True)
    raise typer.Exit(code)


def command(typer_app: typer.Typer, *args, **kwargs):
    """Register a command whose AsrError becomes a one-line message and exit code 1."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except AsrError as e:
                fail(str(e))

        return typer_app.command(*args, **kwargs)(wrapper)

    return decorate


# ---- data directories -------------------------------------------------------------------------------------


# ---- features, tokens ----------------------------------------------------------------------------------


# ---- training, decoding, scoring -----------------------------------------------------------------------


# ---- transcribe -----------------------------------------------------------------------------------------


if __name__ == "__main__":
    app()
