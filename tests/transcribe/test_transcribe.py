"""The Transcriber: chunking and stitching of long audio, word times and confidences, batching, the stream
reader. Exact behaviour is checked with LevelModel (tests/helpers/transcribe.py), whose frames we control."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import load_audio
from asr.decoding.config import DecoderConfig
from asr.errors import AudioError, ConfigError
from asr.text.tokenizer import CharTokenizer, WordTokenizer
from asr.transcribe import Failure, Transcriber, Transcript
from asr.transcribe.align import TokenSpan, Word, forced_align, greedy_spans, join_spans, spans_to_words
from asr.transcribe.audio_stream import AudioStream
from asr.transcribe.chunking import ChunkConfig, Stitcher, find_cut
from asr.transcribe.inputs import AudioInput
from asr.transcribe.snap import snap_to_speech
from helpers.transcribe import FRAME, RATE, level_audio, level_model, make_model_dir, streaming_level_model

CHUNKINGS = [ChunkConfig(1000, 10), ChunkConfig(3, 1), ChunkConfig(2.4, 1.2), ChunkConfig(1.5, 0.6)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one thread is fastest, and far faster on a busy machine (no OpenMP spinning)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def levels():
    return level_model()


@pytest.mark.parametrize("chunk", CHUNKINGS, ids=lambda c: f"{c.chunk_s}s/{c.overlap_s}s")
@pytest.mark.parametrize("word_times", ["ctc", "speech"])
def test_words_at_chunk_borders_are_neither_lost_nor_doubled(levels, chunk, word_times):
    audio, truth = level_audio(60, seed=1)  # ~80 s: with 1.5 s windows, ~90 borders, many inside words
    result = Transcriber(levels, chunk=chunk, word_times=word_times, batch_size=3).transcribe(audio)
    assert [w.word for w in result.words] == [w.word for w in truth]
    assert [(round(w.start_s, 6), round(w.end_s, 6)) for w in result.words] == \
        [(round(w.start_s, 6), round(w.end_s, 6)) for w in truth]
    assert result.duration_s == pytest.approx(len(audio) / RATE)


def test_beam_decoder_gives_the_same_timed_words(levels):
    audio, truth = level_audio(20, seed=4)
    options = DecoderConfig("beam", beam_size=8)
    t = Transcriber(levels, decoder=options, chunk=ChunkConfig(3, 1), word_times="ctc")
    words = t.transcribe(audio).words
    assert [(w.word, round(w.start_s, 6), round(w.end_s, 6)) for w in words] == \
        [(w.word, round(w.start_s, 6), round(w.end_s, 6)) for w in truth]


def test_lm_decoder_words_are_spelled_and_timed(levels, tmp_path, monkeypatch):
    """The lexicon + LM search (asr.decoding.lm) gives words; transcribe spells them in the model's units and
    times them by forced alignment. The search is stubbed with the truth: this checks the wiring."""
    from asr.decoding import lm

    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("A A\nB B\n")
    audio, truth = level_audio(12, seed=5)
    seen = {}

    def search(self, log_probs, lengths):
        seen["vocabulary"] = sorted(self.lexicon)
        return [[w.word for w in truth]]

    monkeypatch.setattr(lm.LexiconLMDecoder, "decode", search)
    options = DecoderConfig("lm", beam_size=8, lexicon=str(lexicon))
    words = Transcriber(levels, decoder=options, word_times="ctc").transcribe(audio).words
    assert seen["vocabulary"] == ["A", "B"]
    assert [(w.word, round(w.start_s, 6), round(w.end_s, 6)) for w in words] == \
        [(w.word, round(w.start_s, 6), round(w.end_s, 6)) for w in truth]


def test_lm_decoder_needs_a_vocabulary(levels):
    with pytest.raises(ConfigError, match="--decoder lm needs --lm"):
        Transcriber(levels, decoder="lm")


def test_word_times_bracket_true_midpoints(levels):
    audio, truth = level_audio(25, seed=2)
    for word_times in ("ctc", "speech"):
        words = Transcriber(levels, chunk=ChunkConfig(4, 1.5), word_times=word_times).transcribe(audio).words
        assert len(words) == len(truth)
        for got, want in zip(words, truth):
            assert got.start_s <= want.mid_s <= got.end_s, (word_times, got, want)
            assert 0.0 <= got.confidence <= 1.0


def test_stitcher_recovers_the_path_despite_bad_window_edges():
    rng = np.random.default_rng(0)
    t_len, vocab, size, hop = 2000, 6, 120, 80
    path = np.where(rng.random(t_len) < 0.25, rng.integers(1, vocab, t_len), 0)  # sparse tokens, mostly blank
    truth = torch.nn.functional.one_hot(torch.tensor(path), vocab).float().log_softmax(-1)
    stitcher, pieces, start = Stitcher(), [], 0
    while True:
        window = truth[start:start + size].clone()
        edge = 12  # the first and last frames of a window are unreliable: scramble them (not the file's ends)
        noise = torch.randn(edge, vocab) * 10
        if start > 0:
            window[:edge] = noise.log_softmax(-1)
        if start + size < t_len:
            window[-edge:] = noise.flip(0).log_softmax(-1)
        pieces += stitcher.add(window, start)
        if start + size >= t_len:
            break
        start += hop
    pieces += stitcher.finish()
    firsts = [p[0] for p in pieces]
    assert firsts == sorted(firsts) and firsts[0] == 0
    stitched = torch.cat([p[1] for p in pieces])
    assert stitched.shape[0] == t_len
    assert torch.equal(stitched.argmax(-1), torch.tensor(path))


def test_find_cut_prefers_the_longest_common_blank_run_in_the_middle():
    prev = torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0])
    nxt = torch.tensor([5, 5, 5, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0])
    assert find_cut(prev, nxt) == 12  # the run 9..15 (7 frames, central) beats 3..7 and 17..19
    all_token = torch.full((12,), 3)
    assert find_cut(all_token, all_token) == 6  # no blank anywhere: the centre, where both agree


def test_join_spans_merges_a_run_split_at_a_cut_only():
    spans = [TokenSpan(3, 0, 2, 0.9), TokenSpan(4, 5, 8, 0.5)]
    join_spans(spans, [TokenSpan(4, 8, 10, 0.7), TokenSpan(4, 11, 12, 0.8)])
    assert spans == [TokenSpan(3, 0, 2, 0.9), TokenSpan(4, 5, 10, 0.7), TokenSpan(4, 11, 12, 0.8)]


def test_greedy_spans_and_words_with_times_and_confidence():
    ids = [0, 3, 3, 0, 4, 2, 2, 0, 0, 5, 0, 5, 0]
    probs = torch.full((len(ids), 6), 0.02)
    probs[torch.arange(len(ids)), ids] = 0.9
    probs[1, 3] = 0.6  # the least sure frame of the first word's first token; its peak is still 0.9 (frame 2)
    probs[9, 5] = 0.5
    spans = greedy_spans(probs.log())
    assert [(s.token, s.start, s.end) for s in spans] == [(3, 1, 3), (4, 4, 5), (2, 5, 7), (5, 9, 10), (5, 11, 12)]
    words = spans_to_words(spans, CharTokenizer(["<blank>", "<unk>", "<space>", "a", "b", "c"]), frame_s=0.03)
    assert [w.word for w in words] == ["ab", "cc"]
    assert words[0].start_s == pytest.approx(0.03) and words[0].end_s == pytest.approx(0.15)
    assert words[1].start_s == pytest.approx(0.27) and words[1].end_s == pytest.approx(0.36)
    assert words[0].confidence == pytest.approx(0.9) and words[1].confidence == pytest.approx(0.5)


def test_words_of_word_units_and_long_pauses():
    word_units = WordTokenizer(["<blank>", "<unk>", "<space>", "NO", "YES"])
    spans = [TokenSpan(3, 2, 4, 0.9), TokenSpan(4, 6, 7, 0.8), TokenSpan(1, 9, 10, 0.7), TokenSpan(4, 12, 13, 0.6)]
    assert [(w.word, w.confidence) for w in spans_to_words(spans, word_units, 0.03)] == \
        [("NO", 0.9), ("YES", 0.8), ("YES", 0.6)]  # each unit a word; <unk> gives no word
    chars = CharTokenizer(["<blank>", "<unk>", "<space>", "N", "O"])
    apart = [TokenSpan(3, 0, 2, 1.0), TokenSpan(4, 5, 6, 1.0), TokenSpan(3, 60, 61, 1.0), TokenSpan(4, 63, 64, 1.0)]
    assert [w.word for w in spans_to_words(apart, chars, 0.03)] == ["NO", "NO"]  # 1.6 s apart: no <space> needed
    assert [w.word for w in spans_to_words(apart, chars, 0.03, pause_s=None)] == ["NONO"]


def test_forced_align_places_known_tokens():
    ids = [0, 0, 3, 3, 0, 0, 4, 0, 3, 0]
    lp = torch.nn.functional.one_hot(torch.tensor(ids), 5).float().mul(5).log_softmax(-1)
    spans = forced_align(lp, [3, 4, 3])
    assert [(s.token, s.start, s.end) for s in spans] == [(3, 2, 4), (4, 6, 7), (3, 8, 9)]
    assert [(s.token, s.start, s.end) for s in spans] == [(s.token, s.start, s.end) for s in greedy_spans(lp)]
    repeated = forced_align(lp, [3, 3])  # a repeat needs a blank between: still fits
    assert repeated[0].end <= repeated[1].start - 1
    with pytest.raises(ValueError):
        forced_align(lp[:3], [3, 3, 3])  # needs 5 frames


def test_snap_moves_late_ctc_times_onto_the_speech():
    frame_s = 0.03
    energy = np.full(100, -60.0, dtype=np.float32)
    energy[10:30] = -20.0  # word 1 at frames 10-30, word 2 at 50-70
    energy[50:70] = -22.0
    late = [Word("NO", 0.75, 1.05, 0.9), Word("YES", 1.95, 2.25, 0.9)]  # CTC: frames 25-35 and 65-75
    snapped = snap_to_speech(late, energy, frame_s)
    assert [(round(w.start_s / frame_s), round(w.end_s / frame_s)) for w in snapped] == [(10, 30), (50, 70)]
    assert [w.word for w in snapped] == ["NO", "YES"] and snapped[0].confidence == 0.9
    energy[:40] = -100.0  # digital silence (exact zeros) before the first word must not set the noise floor
    energy[10:30] = -20.0
    assert snap_to_speech(late, energy, frame_s) == snapped
    flat = np.full(100, -40.0, dtype=np.float32)  # no contrast between speech and silence: times kept
    assert snap_to_speech(late, flat, frame_s) == late


def test_snap_never_moves_a_boundary_far_from_the_ctc_span():
    """A region that runs on (a hum, a noise floor misjudged) does not stretch the word over it."""
    frame_s = 0.03
    energy = np.full(400, -60.0, dtype=np.float32)
    energy[150:390] = -20.0
    word = [Word("NO", 200 * frame_s, 210 * frame_s, 0.9)]
    (snapped,) = snap_to_speech(word, energy, frame_s)
    reach = round(0.5 / frame_s)
    assert (round(snapped.start_s / frame_s), round(snapped.end_s / frame_s)) == (200 - reach, 210 + reach)
    (tight,) = snap_to_speech(word, energy, frame_s, max_shift_s=0.0)
    assert (tight.start_s, tight.end_s) == (word[0].start_s, word[0].end_s)


def test_batching_and_order_do_not_change_results(tmp_path):
    model_dir = make_model_dir(tmp_path / "model")
    rng = np.random.default_rng(3)
    files = []
    for i, seconds in enumerate([0.7, 3.1, 0.01, 5.3, 1.2]):
        files.append(tmp_path / f"a{i}.wav")
        sf.write(files[-1], 0.1 * rng.standard_normal(int(8000 * seconds)), 8000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    inputs = [str(f) for f in files[:2]] + [str(bad)] + [str(f) for f in files[2:]]
    runs = []
    for batch_size in (1, 4):
        t = Transcriber.from_pretrained(model_dir, "cpu", chunk=ChunkConfig(2.0, 0.6), batch_size=batch_size)
        runs.append(list(t.transcribe_many(inputs)))
    assert [r.audio for r in runs[0]] == inputs
    assert isinstance(runs[0][2], Failure) and "bad.wav: empty audio file" in runs[0][2].error
    tiny = runs[0][3]
    assert isinstance(tiny, Transcript) and tiny.words == [] and tiny.text == ""  # shorter than one frame
    for a, b in zip(*runs):
        assert type(a) is type(b)
        if isinstance(a, Transcript):
            assert a.text == b.text
            assert [(w.start_s, w.end_s) for w in a.words] == [(w.start_s, w.end_s) for w in b.words]
            assert [w.confidence for w in a.words] == pytest.approx([w.confidence for w in b.words], abs=1e-4)


def test_short_file_gives_the_whole_file_result(tmp_path):
    """One window covers a short file: the same log-probs as running the model on the whole file."""
    model_dir = make_model_dir(tmp_path / "model")
    t = Transcriber.from_pretrained(model_dir, "cpu", word_times="ctc")
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.2 * np.random.default_rng(4).standard_normal(24000), 44100)
    feats = t.features(str(wav))
    log_probs, _ = t.loaded.model(feats[None], torch.tensor([feats.shape[0]]))
    spans = greedy_spans(log_probs[0])
    expected = spans_to_words(spans, t.loaded.tokenizer, t.frame_s)
    result = t.transcribe(wav)
    assert result.words == expected
    assert result.text == t.loaded.tokenizer.decode([s.token for s in spans])


def test_transcribe_accepts_samples_and_raises_for_bad_audio(tmp_path):
    t = Transcriber.from_pretrained(make_model_dir(tmp_path / "model"), "cpu")
    samples = 0.1 * np.random.default_rng(5).standard_normal((16000, 2)).astype(np.float32)
    at_16k = t.transcribe(samples, sample_rate=16000)
    assert at_16k.duration_s == pytest.approx(1.0, abs=1e-3)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not audio\n")
    with pytest.raises(AudioError, match="notes.txt: cannot decode audio"):
        t.transcribe(text_file)


def test_samples_of_any_common_type_and_layout_give_the_same_words(levels):
    """int16 (scipy.io.wavfile, sf.read(dtype='int16')), int32, float64, torch tensors, lists; mono, (N, C) and
    channel-first (C, N): the same recording gives the same timed words."""
    audio, truth = level_audio(4, seed=2)
    audio = np.clip(audio, -0.99, 0.99)
    t = Transcriber(levels, word_times="ctc")
    expected = t.transcribe(audio)
    assert [w.word for w in expected.words] == [w.word for w in truth]
    int16 = np.round(audio * 32767).astype(np.int16)
    stereo = np.stack([audio, audio], axis=1)
    for variant in (int16, int16.astype(np.int32) << 16, audio.astype(np.float64), stereo, stereo.T,
                    torch.from_numpy(audio), torch.from_numpy(stereo.T.copy()), int16.tolist(), audio.tolist()):
        got = t.transcribe(variant, sample_rate=RATE)
        assert got.text == expected.text, type(variant)
        assert [(w.start_s, w.end_s) for w in got.words] == [(w.start_s, w.end_s) for w in expected.words]


@pytest.mark.parametrize("bad, message", [
    (np.zeros(0), "audio has no samples"),
    (np.zeros((0, 2)), "audio has no samples"),
    ([], "audio has no samples"),
    (np.float32(0.5), "cannot be audio: shape"),
    (np.zeros((2, 100, 100)), "cannot be audio: shape"),
    (np.zeros((100, 100)), "which is time"),
    (np.array(["a", "b"]), "an array of text"),
    ([1, [2, 3]], "cannot be audio"),
    (np.array([0.1, np.nan]), "NaN"),
    (np.ones(10, dtype=complex), "complex"),
    ({"samples": 1}, "cannot be audio"),
    (None, "cannot be audio"),
    (b"", "empty"),
    (b"RIFF not really", "<bytes>: cannot decode audio"),
    (np.array([2 ** 40]), "beyond 32-bit"),
], ids=lambda x: type(x).__name__ if not isinstance(x, str) else x[:12])
def test_what_cannot_be_audio_is_an_audio_error(levels, bad, message):
    with pytest.raises(AudioError, match=message) as e:
        Transcriber(levels).transcribe(bad)
    assert "\n" not in str(e.value) and "0x" not in str(e.value)


def test_a_bad_sample_rate_is_an_audio_error(levels):
    for rate in (0, -8000, 8000.5, "8k", True):
        with pytest.raises(AudioError, match="sample_rate must be a positive integer"):
            Transcriber(levels).transcribe(np.zeros(800), sample_rate=rate)


def test_an_audio_files_bytes_and_a_path_object_are_transcribed(levels, tmp_path):
    audio, truth = level_audio(2, seed=3)
    path = tmp_path / "a.wav"
    sf.write(path, audio, RATE)
    t = Transcriber(levels, word_times="ctc")
    assert t.transcribe(path.read_bytes()).text == t.transcribe(path).text == t.transcribe(str(path)).text
    assert t.transcribe(path).text.split() == [w.word for w in truth]


@pytest.mark.parametrize("streaming", [False, True])
def test_transcribe_streams_gives_each_sources_words_in_order(levels, tmp_path, streaming):
    """The server's entry point: (input, stream) pairs, a stream of samples or None (read the input's spec); a
    streaming model's recordings go through its stream sessions there too."""
    t = Transcriber(streaming_level_model() if streaming else levels, word_times="ctc")
    sessions, make_session = [], t.stream
    t.stream = lambda: sessions.append(make_session()) or sessions[-1]
    (a, truth_a), (b, truth_b) = level_audio(2, seed=5), level_audio(3, seed=6)
    sf.write(tmp_path / "a.wav", a, RATE)
    sources = [(AudioInput("a", str(tmp_path / "a.wav")), None), (AudioInput("gone", "gone", error="gone: no"), None),
               (AudioInput("b", "b"), AudioStream(b, RATE, "b"))]
    results = list(t.transcribe_streams(sources))
    assert [r.audio for r in results] == ["a", "gone", "b"] and isinstance(results[1], Failure)
    assert results[0].text.split() == [w.word for w in truth_a] and results[2].text.split() == [w.word for w in truth_b]
    assert len(sessions) == (2 if streaming else 0)


def test_bad_chunk_settings_are_config_errors(levels):
    with pytest.raises(ConfigError, match="twice the overlap"):
        Transcriber(levels, chunk=ChunkConfig(3, 2))
    with pytest.raises(ConfigError, match="word times"):
        Transcriber(levels, word_times="exact")
    with pytest.raises(ConfigError, match="unknown decoder"):
        Transcriber(levels, decoder="viterbi")


def test_stream_windows_tile_the_recording(tmp_path):
    rng = np.random.default_rng(6)
    x = (0.1 * rng.standard_normal(8000 * 7 + 123)).astype(np.float32)
    path = tmp_path / "long.flac"
    sf.write(path, np.stack([x, x], axis=1), 8000)  # stereo: mixed down
    size, hop = 8000 * 2, 8000 * 1
    windows = list(AudioStream(str(path), 8000).windows(size, hop))
    assert [w[0] for w in windows] == [k * hop for k in range(len(windows))]
    assert [w[2] for w in windows] == [False] * (len(windows) - 1) + [True]
    assert windows[-1][0] + len(windows[-1][1]) == len(x) and len(windows[-2][1]) == size
    assert windows[-2][0] + size < len(x)  # the last window is needed
    np.testing.assert_allclose(np.concatenate([w[1][:hop] for w in windows[:-1]] + [windows[-1][1]]), x, atol=1e-4)
    # another rate: each window resampled on its own matches the whole file resampled, away from the edges
    path44 = tmp_path / "long44.wav"
    sf.write(path44, load_audio(str(path), 44100), 44100, subtype="FLOAT")
    whole = load_audio(str(path44), 8000)
    for start, samples, _ in AudioStream(str(path44), 8000).windows(size, hop):
        inner = slice(200, len(samples) - 200)
        np.testing.assert_allclose(samples[inner], whole[start:start + len(samples)][inner], atol=2e-3)


def test_frame_grid_is_whole_output_frames(levels):
    t = Transcriber(levels, chunk=ChunkConfig(3, 1))
    assert t.samples_per_frame == FRAME and t.frame_s == pytest.approx(0.03)
    assert t.hop_samples % FRAME == 0 and t.window_samples % FRAME == 0


def test_input_far_from_the_training_level_is_warned_about(tmp_path, caplog):
    """A global-CMVN model knows its training data's level: a recording 20 dB quieter is measured so and warned
    about, once, on one line (the CLI prints it as `asr: warning:`); one at the training level is not."""
    from typer.testing import CliRunner

    from asr.cli import app
    from asr.features.cmvn import accumulate_stats
    from asr.features.kaldi import compute_features
    from asr.model.store import load_model_dir, save_weights

    model_dir = make_model_dir(tmp_path / "model")
    loaded = load_model_dir(model_dir)
    speech = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    loaded.model.set_cmvn(accumulate_stats(compute_features(speech, loaded.features).numpy()))
    save_weights(loaded.model, model_dir)
    t = Transcriber(load_model_dir(model_dir))
    with caplog.at_level("WARNING", logger="asr.transcribe"):
        assert abs(t.transcribe(speech).level_db) < 1.0
        assert not caplog.records
        assert t.transcribe(speech * 0.1).level_db == pytest.approx(-20, abs=1.5)
    (record,) = caplog.records
    assert record.getMessage().startswith("<array>: input level 2") and "dB below the training data's" in \
        record.getMessage()
    sf.write(tmp_path / "quiet.wav", speech * 0.1, 8000)
    result = CliRunner().invoke(app, ["transcribe", str(model_dir), str(tmp_path / "quiet.wav")])
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"asr: warning: {tmp_path / 'quiet.wav'}: input level")
    per_utterance = Transcriber(load_model_dir(model_dir))
    per_utterance.loaded.model.config.cmn = "utterance"
    assert Transcriber(per_utterance.loaded).transcribe(speech * 0.1).level_db is None
