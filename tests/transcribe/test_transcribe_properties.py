"""Property tests (hypothesis): whatever is handed to `Transcriber.transcribe` (random bytes, random small arrays
of any dtype and shape, lists) gives a Transcript or an AsrError with a one-line message, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from asr.errors import AsrError
from asr.transcribe import Transcriber, Transcript
from helpers.transcribe import level_model

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber(level_model())


def transcribe_or_error(t: Transcriber, audio, **kwargs) -> None:
    try:
        result = t.transcribe(audio, **kwargs)
    except AsrError as e:
        assert str(e) and "\n" not in str(e), repr(e)
        return
    assert isinstance(result, Transcript)


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes(transcriber, data):
    transcribe_or_error(transcriber, data)


@SETTINGS
@given(data=st.one_of(st.just(b"RIFF"), st.just(b"fLaC"), st.just(b"OggS"), st.just(b"ID3")).flatmap(
    lambda magic: st.binary(max_size=600).map(lambda rest: magic + rest)))
def test_random_bytes_behind_a_format_signature(transcriber, data):
    transcribe_or_error(transcriber, data)


dtypes = st.sampled_from([np.int8, np.uint8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64,
                          np.bool_, np.complex64])
arrays = dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                                    max_side=40)))


@SETTINGS
@given(audio=arrays, rate=st.one_of(st.none(), st.sampled_from([1, 8000, 16000, 44100]), st.integers(-5, 0)))
def test_random_small_arrays(transcriber, audio, rate):
    transcribe_or_error(transcriber, audio, sample_rate=rate)


@SETTINGS
@given(audio=st.lists(st.one_of(st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=True), st.text(max_size=2)),
                      max_size=50))
def test_random_lists(transcriber, audio):
    transcribe_or_error(transcriber, audio)
