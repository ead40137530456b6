"""The CLI's error contract, checked on a typer CliRunner result: exit code non-zero, no traceback, and exactly
one line on stderr, `asr: error: ...`."""

from __future__ import annotations


def one_line_error(result) -> str:
    """The message of a command that failed as the CLI promises (the text after `asr: error: `)."""
    assert result.exit_code not in (0, None), result.stdout
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("asr: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0].removeprefix("asr: error: ")
