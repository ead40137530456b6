"""The project's exceptions: each carries a one-line message naming the file (and line) at fault."""


class AsrError(Exception):
    """Base class; the CLI prints the message on one line and exits non-zero."""


class DataError(AsrError):
    """A Kaldi data file is malformed or inconsistent (message: `path:line: what`)."""


class AudioError(AsrError):
    """Audio could not be read or decoded (message names the file); `reason` is its short category for
    screening reports ("missing file", "empty file", "truncated file", "not audio", "NaN samples", ...)."""

    def __init__(self, message: str, reason: str = "unreadable audio"):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # keep the reason across processes (pickling)
        return type(self), (str(self), self.reason)


class ConfigError(AsrError):
    """A configuration file or option is invalid."""


class TrainingError(AsrError):
    """Training cannot go on (e.g. the loss stays non-finite)."""
