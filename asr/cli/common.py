"""The `asr` app and the one rule of every command: an AsrError is one `asr: error:` line and exit code 1."""

from __future__ import annotations

import functools

import typer

from asr.errors import AsrError

app = typer.Typer(help="lstm-asr: Kaldi-style speech recognition with BiLSTM-CTC.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


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


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was given (not left at its default)."""
    return ctx.get_parameter_source(name).name != "DEFAULT"  # typer vendors click: compare the enum by name
