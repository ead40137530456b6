"""Streaming sessions (asr.transcribe.stream): random chunkings give the words of one call, for every decoder;
endpoints make final segments timed from the stream's start; memory stays flat on a long stream."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from asr.decoding.config import DecoderConfig
from asr.transcribe import Transcriber
from helpers.transcribe import RATE, level_audio, streaming_level_model


@pytest.fixture(scope="module")
def levels():
    return streaming_level_model()


def decoders(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("A A\nB B\n")
    return {"greedy": DecoderConfig("greedy"), "beam": DecoderConfig("beam", beam_size=4),
            "lm": DecoderConfig("lm", beam_size=10, lexicon=str(lexicon))}


def streamed(transcriber, audio, rng):
    session, partials, finals, pos = transcriber.stream(endpoint_s=0.3), [], [], 0
    while pos < len(audio):
        k = int(rng.integers(1, 12000))
        result = session.accept(audio[pos:pos + k], RATE)
        partials.append(result.text)
        finals.append(list(result.words))
        pos += k
    finals.append(session.finish())
    return session, partials, finals


@pytest.mark.parametrize("decoder", ["greedy", "beam", "lm"])
def test_random_chunks_give_the_words_of_one_call(levels, tmp_path, decoder):
    audio, truth = level_audio(10, seed=3)
    t = Transcriber(levels, decoder=decoders(tmp_path)[decoder])
    whole = t.transcribe(audio).words  # a streaming model's file goes through a session too
    assert [w.word for w in whole] == [w.word for w in truth]
    one = t.stream(endpoint_s=0.3)
    one.accept(audio, RATE)
    one.finish()
    assert [w.word for w in one.words] == [w.word for w in truth]
    for seed in range(2):
        session, partials, finals = streamed(t, audio, np.random.default_rng(seed))
        got = [w for f in finals for w in f]
        assert [(w.word, w.start_s, w.end_s) for w in got] == [(w.word, w.start_s, w.end_s) for w in one.words]
        assert session.words == got
        assert sum(1 for f in finals if f) >= 3  # endpoints made several final segments on the way
        assert any(partials)  # partial hypotheses came before the finals
    for got, want in zip(whole, truth):  # times from the stream's start
        assert want.start_s - 0.1 <= got.start_s <= want.mid_s <= got.end_s <= want.end_s + 0.1


def test_ten_minute_stream_keeps_memory_flat(levels):
    audio, _ = level_audio(8, seed=7)  # ~12 s, repeated to 10 minutes
    session = Transcriber(levels).stream()
    chunk, total, sizes, peaks = 4000, 0, [], []
    tracemalloc.start()
    try:
        while total < 600 * RATE:
            for pos in range(0, len(audio), chunk):
                session.accept(audio[pos:pos + chunk], RATE)
            total += len(audio)
            sizes.append(session.state_size())
            peaks.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert session.duration_s >= 600
    assert max(sizes[len(sizes) // 2:]) <= max(sizes[:len(sizes) // 2]) * 1.5
    assert peaks[-1] < peaks[len(peaks) // 4] + 2_000_000  # the final words (a few kB) are all that grows
    assert len(session.words) >= 8 * len(sizes) * 0.9


@pytest.mark.parametrize("model", [dict(bidirectional=False, right_context=2), dict(chunk_size=5, right_context=2)])
def test_model_file_and_stream_agree(tmp_path, model):
    """A (random) streaming model: `transcribe` of a file gives the words that streaming it in random chunks
    gives, through online features and the model run chunk by chunk."""
    import soundfile as sf

    from helpers.transcribe import make_model_dir

    t = Transcriber.from_pretrained(make_model_dir(tmp_path / "m", 8000, cmn="running", **model), "cpu",
                                    word_times="ctc")
    audio = (0.1 * np.random.default_rng(0).standard_normal(8000 * 4)).astype(np.float32)
    sf.write(tmp_path / "a.wav", audio, 8000, subtype="FLOAT")
    whole = [(w.word, w.start_s, w.end_s) for w in t.transcribe(tmp_path / "a.wav").words]
    assert whole
    rng, session, pos = np.random.default_rng(1), t.stream(), 0
    while pos < len(audio):
        k = int(rng.integers(1, 3000))
        session.accept(audio[pos:pos + k], 8000)
        pos += k
    session.finish()
    assert [(w.word, w.start_s, w.end_s) for w in session.words] == whole
