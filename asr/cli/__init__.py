"""The `asr` command: one subcommand per pipeline stage, each a thin layer over the library.

One module per group of commands, each registering on the one `app` (asr/cli/common.py), imported below in
pipeline order (the order of `asr --help`). Heavy imports (torch) happen inside the commands so `asr --help` is
instant. Errors from the library (AsrError) are printed on one line and exit non-zero.
"""

# isort: off
from asr.cli import data, prepare, features, train, decode, score, transcribe, model, serve  # noqa: F401  (they register)
# isort: on
from asr.cli.common import app
from asr.cli.decoder_options import DECODER_OPTIONS

__all__ = ["DECODER_OPTIONS", "app"]
