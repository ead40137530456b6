"""The `asr` app and the one rule of every command: an error is one `asr: error:` line on stderr, never a
traceback. An AsrError (bad input: a file, a line, a key) exits 1; a usage error (a missing argument, an unknown
option, a value of the wrong type) exits 2, its line ending `(asr CMD --help for usage)`. `asr --version`."""

from __future__ import annotations

import errno
import functools
import sys

import typer
from typer.core import TyperGroup, TyperOption

from asr.errors import AsrError

try:
    from typer import _click as click  # typer vendors click (its exceptions are these, not click's)
except ImportError:  # older typer: click itself
    import click


class AsrGroup(TyperGroup):
    """The top group: click's usage errors (several lines: usage, a box, the error) become one line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:  # `asr` or `asr data` alone: the help, as before
            typer.echo(e.ctx.get_help() if e.ctx else str(e), err=True)
            sys.exit(e.exit_code)
        except click.exceptions.ClickException as e:
            typer.echo(f"asr: error: {usage_error_line(e)}", err=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("asr: error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def usage_error_line(e: click.exceptions.ClickException) -> str:
    """A click error on one line: `asr CMD: what (asr CMD --help for usage)`."""
    message = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    if ctx is None:
        return message
    return f"{ctx.command_path}: {message} ({ctx.command_path} --help for usage)"


def _flag_type(self, ctx):
    """Flags take no value: no `<bool>` in the help (typer shows every option's type)."""
    return None if self.is_flag else _option_type(self, ctx)


if hasattr(TyperOption, "display_type_rich"):  # typer >= 0.2x shows `<type>` for every option
    _option_type = TyperOption.display_type_rich
    TyperOption.display_type_rich = _flag_type

app = typer.Typer(cls=AsrGroup, help="lstm-asr: Kaldi-style speech recognition with BiLSTM-CTC.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def version() -> str:
    """The installed lstm-asr's version (the source tree's when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lstm-asr")
    except PackageNotFoundError:
        import asr

        return asr.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"asr (lstm-asr) {version()}")
        raise typer.Exit()


@app.callback()
def main(_version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """lstm-asr: Kaldi-style speech recognition with BiLSTM-CTC."""


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
            except BrokenPipeError:
                raise
            except OSError as e:  # a path of the wrong kind that the library did not check: still one line
                if e.filename is None:
                    raise
                fail(os_error_line(e))

        return typer_app.command(*args, **kwargs)(wrapper)

    return decorate


OS_ERRORS = {errno.EISDIR: "a folder, expected a file", errno.ENOTDIR: "a part of the path is a file, not a folder",
             errno.ENOENT: "no such file or folder", errno.EACCES: "permission denied",
             errno.ENOSPC: "no space left on the device", errno.EROFS: "a read-only file system"}


def os_error_line(e: OSError) -> str:
    """`path: what` for an OSError about a path."""
    return f"{e.filename}: {OS_ERRORS.get(e.errno, (e.strerror or type(e).__name__).lower())}"


def given_on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether option `name` was given (not left at its default)."""
    return ctx.get_parameter_source(name).name != "DEFAULT"  # typer vendors click: compare the enum by name
