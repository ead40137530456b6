"""The project's exceptions: each carries a one-line message naming the file (and line) at fault."""


class AsrError(Exception):
    """Base class; the CLI prints the message on one line and exits non-zero."""


class DataError(AsrError):
    """A Kaldi data file is malformed or inconsistent (message: `path:line: what`)."""


class AudioError(AsrError):
    """Audio could not be read or decoded (message names the file)."""


class ConfigError(AsrError):
    """A configuration file or option is invalid."""
