"""`python -m asr.cli ...` (torchrun runs training this way)."""

from asr.cli import app

app()
