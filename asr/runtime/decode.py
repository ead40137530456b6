"""Decoding for the runtime, in NumPy: greedy and prefix beam search (asr.decoding.beam, which needs no
PyTorch), timed by the token spans of asr.decoding.spans (greedy runs, forced alignment in float64 for the beam's
tokens), which asr.transcribe.align shares.
"""

from __future__ import annotations

import numpy as np

from asr.decoding.beam import prefix_beam_search
from asr.decoding.spans import TokenSpan, forced_align, greedy_spans


def decode_spans(log_probs: np.ndarray, decoder: str = "greedy", beam_size: int = 10) -> list[TokenSpan]:
    """(T, V) log-probs of one recording -> token spans: greedy, or prefix beam search timed by alignment."""
    if decoder == "greedy":
        return greedy_spans(log_probs)
    if decoder == "beam":
        return forced_align(log_probs, prefix_beam_search(log_probs, beam_size)[0][0], dtype=np.float64)
    raise ValueError(f"the ONNX runtime decodes greedy or beam, not '{decoder}'")
