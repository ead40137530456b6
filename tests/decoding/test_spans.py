"""Token spans in NumPy (asr.decoding.spans, shared by the ONNX runtime and asr.transcribe.align): greedy runs,
forced alignment in either precision, and the same spans as the PyTorch entry points. Word grouping is tested
through asr.transcribe.align in tests/transcribe/test_transcribe.py."""

import numpy as np
import pytest
import torch

from asr.decoding.spans import forced_align, greedy_spans, path_spans
from asr.transcribe import align


def test_forced_alignment_of_the_greedy_tokens_gives_the_greedy_spans():
    lp = np.log(np.array([[.9, .05, .05], [.1, .8, .1], [.1, .8, .1], [.9, .05, .05], [.1, .1, .8]]))
    spans = greedy_spans(lp)
    assert [(s.token, s.start, s.end) for s in spans] == [(1, 1, 3), (2, 4, 5)]
    assert [(s.token, s.start, s.end) for s in forced_align(lp, [1, 2])] == [(1, 1, 3), (2, 4, 5)]
    assert path_spans(np.zeros(0, np.int64), np.zeros(0)) == [] and forced_align(lp, []) == []


def test_numpy_spans_equal_the_torch_ones_and_keep_the_precision_asked_for():
    lp = torch.randn(40, 6, generator=torch.Generator().manual_seed(1)).mul(4).log_softmax(-1)
    ours, theirs = greedy_spans(lp.numpy()), align.greedy_spans(lp)
    assert [(s.token, s.start, s.end) for s in ours] == [(s.token, s.start, s.end) for s in theirs]
    assert [s.score for s in ours] == pytest.approx([s.score for s in theirs], rel=1e-6)  # exp: NumPy's, torch's
    tokens = [s.token for s in align.greedy_spans(lp)]
    in32 = forced_align(lp.numpy(), tokens, dtype=np.float32)
    assert in32 == align.forced_align(lp, tokens)
    assert [s.score for s in in32] == [float(np.float32(s.score)) for s in in32]  # float32 posteriors
    in64 = forced_align(lp.numpy(), tokens, dtype=np.float64)
    assert [(s.token, s.start, s.end) for s in in64] == [(s.token, s.start, s.end) for s in in32]
    assert any(float(np.float32(s.score)) != s.score for s in in64)  # float64 posteriors
