"""Isolated words decided together over a graph of one speaker's recordings (asr.decoding.speaker_graph): DTW,
label spreading, the mel band, the decoder config, and the same words from `asr decode` and the Transcriber.

The end-to-end case: two "words", a 400 Hz and a 2.5 kHz tone, heard by a stand-in model that goes by loudness
alone (soft: A, loud: B), so that a loud recording of A is heard as B. What it sounds like (its cepstra, level
left out) says it is A: the graph must give it A when a speaker's recordings are decided together,
and leave them B when each is decided alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from asr.cli import app
from asr.data.kaldi_files import read_table
from asr.decoding.config import DecoderConfig
from asr.decoding.decode import decode_with_each, speaker_graph_hypotheses
from asr.decoding.jobs import decode_in_jobs
from asr.decoding.rescore import ctc_log_likelihood, unit_sequences
from asr.decoding.speaker_graph import IsolatedWords, bins_below, dtw_distances, spread
from asr.errors import ConfigError
from asr.export.card import decoder_note
from asr.features.kaldi import FeatureConfig, compute_features
from asr.model.store import LoadedModel, load_model_dir
from asr.scoring.results import how
from asr.text.tokenizer import CharTokenizer
from asr.transcribe import Transcriber
from helpers.decode import decode_setup

RATE = 16000
TOKENS = ["<blank>", "<unk>", "<space>", "A", "B"]
TONE_HZ = {"A": 400.0, "B": 2500.0}


# ---- DTW and spreading ----------------------------------------------------------------------------------------


def test_dtw_is_zero_for_a_time_stretched_copy_and_grows_with_difference():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 3))
    stretched = np.repeat(a, 2, axis=0)  # every frame said twice as long
    other = a + 1.0
    d = dtw_distances([a, stretched, other])
    assert d[0, 1] == pytest.approx(0.0, abs=1e-6)
    assert d[0, 2] > 0.5 and d[1, 2] > 0.5
    assert np.allclose(d, d.T)


def test_spreading_moves_a_minority_of_a_close_cluster_and_leaves_far_recordings_alone():
    # recordings 0-4 sound alike; 0-2 are heard as word 0, 3-4 as word 1; recording 5 is far from all
    dist = np.full((6, 6), 5.0)
    dist[:5, :5] = 0.2
    np.fill_diagonal(dist, 0.0)
    log_prior = np.log(np.array([[0.9, 0.1]] * 3 + [[0.3, 0.7]] * 2 + [[0.2, 0.8]]))
    out = spread(log_prior, dist, k=4, alpha=0.9, max_dist=1.0)
    assert out.argmax(1).tolist() == [0, 0, 0, 0, 0, 1]
    assert np.allclose(out.sum(1), 1.0)
    assert np.allclose(out[5], np.exp(log_prior[5]))  # no neighbour within max_dist: its own probabilities
    nothing_close = spread(log_prior, dist, k=4, alpha=0.9, max_dist=0.1)
    assert nothing_close.argmax(1).tolist() == log_prior.argmax(1).tolist()


def test_bins_below_counts_the_mel_bins_under_a_frequency():
    assert bins_below(FeatureConfig(sample_rate=8000, num_mel_bins=40), 4000) == 40  # the whole band
    assert bins_below(FeatureConfig(sample_rate=16000, num_mel_bins=80, low_freq=20), 4000) == 60
    assert bins_below(FeatureConfig(sample_rate=16000, num_mel_bins=80, low_freq=20), 8000) == 80
    with pytest.raises(ConfigError, match="fbank"):
        bins_below(FeatureConfig(kind="mfcc"), 4000)


def test_decoder_config_checks_and_takes_the_models_graph_with_its_vocabulary(tmp_path):
    with pytest.raises(ConfigError, match="isolated words"):
        DecoderConfig(decoder="lm", lexicon="x", lm="lm.arpa", speaker_graph=5).check()
    with pytest.raises(ConfigError, match="isolated words"):
        DecoderConfig(decoder="lm", lexicon="x", speaker_graph=5, tune_word_scores=[0.0, 1.0]).check()
    with pytest.raises(ConfigError, match="graph_alpha"):
        DecoderConfig(decoder="lm", lexicon="x", speaker_graph=5, graph_alpha=1.0).check()
    packed = SimpleNamespace(config={"decoding": {"decoder": "lm", "lexicon": "words.txt", "speaker_graph": 7,
                                                  "graph_max_dist": 2.0}})
    model_s = DecoderConfig().resolved(packed)
    assert (model_s.speaker_graph, model_s.graph_max_dist, model_s.graph_alpha) == (7, 2.0, 0.9)
    assert DecoderConfig(decoder="lm", lexicon="other.txt").resolved(packed).speaker_graph == 0
    assert DecoderConfig(speaker_graph=0).resolved(packed).speaker_graph == 0


# ---- tones heard by loudness ----------------------------------------------------------------------------------


class LoudnessModel(torch.nn.Module):
    """Every frame's token from its mean log-mel level: under `quiet` blank, under `loud` A, above it B."""

    def __init__(self, quiet: float, loud: float):
        super().__init__()
        self.config = SimpleNamespace(subsample=1, stack_frames=1, cmn="global")
        self.quiet, self.loud = quiet, loud

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        level = feats.mean(-1)
        ids = torch.where(level < self.quiet, 0, torch.where(level < self.loud, 3, 4))
        return F.log_softmax(F.one_hot(ids, len(TOKENS)).float() * 4.0, dim=-1), lengths


def tone(word: str, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.4 * RATE)) / RATE
    x = np.sin(2 * np.pi * TONE_HZ[word] * (1 + 0.02 * rng.standard_normal()) * t) + 0.05 * rng.standard_normal(len(t))
    return (amplitude * x).astype(np.float32)


@pytest.fixture
def tones(tmp_path):
    """(loaded model, lexicon, {utt: wav path}, {utt: word}, {utt: speaker}): speaker s1 says A six times (once
    loud) and B four times; speaker s2 says A once, loud."""
    rng = np.random.default_rng(0)
    said = [("A", 0.05)] * 5 + [("A", 0.5)] + [("B", 0.5)] * 4
    utts = {f"s1-{i:02d}": (w, a) for i, (w, a) in enumerate(said)}
    utts["s2-00"] = ("A", 0.5)
    paths, words = {}, {}
    for utt, (word, amplitude) in utts.items():
        paths[utt] = tmp_path / f"{utt}.wav"
        sf.write(paths[utt], tone(word, amplitude, rng), RATE)
        words[utt] = word
    cfg = FeatureConfig(sample_rate=RATE, num_mel_bins=40)
    levels = {a: float(compute_features(tone("A", a, rng), cfg).mean()) for a in (0.05, 0.5)}
    model = LoudnessModel(levels[0.05] - 3.0, (levels[0.05] + levels[0.5]) / 2)
    loaded = LoadedModel(model, CharTokenizer(TOKENS), cfg, {})
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("A\nB\n")
    return loaded, lexicon, paths, words, {u: u.split("-")[0] for u in utts}


def graph_config(lexicon: Path, k: int = 3) -> DecoderConfig:
    return DecoderConfig(decoder="lm", lexicon=str(lexicon), lm_weight=0.0, speaker_graph=k)


def test_transcriber_decides_a_speakers_words_together_once_the_speaker_is_set(tones):
    loaded, lexicon, paths, words, _ = tones
    transcriber = Transcriber(loaded, decoder=graph_config(lexicon))
    s1 = [str(p) for u, p in paths.items() if u.startswith("s1")]
    alone = [r.text for r in transcriber.transcribe_many(s1)]
    assert alone == ["A"] * 5 + ["B"] * 5  # by loudness: the loud A is heard as B
    transcriber.set_speaker(s1)
    together = list(transcriber.transcribe_many(s1))
    assert [r.text for r in together] == [words[u] for u in paths if u.startswith("s1")]
    assert all(len(r.words) == 1 and 0 <= r.words[0].start_s < r.words[0].end_s <= r.duration_s for r in together)


def test_decode_groups_by_speaker_and_gives_the_transcribers_words(tones, tmp_path):
    loaded, lexicon, paths, words, utt2spk = tones
    data = tmp_path / "data"
    data.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{data / 'feats.ark'},{data / 'feats.scp'}") as w:
        for utt, path in paths.items():
            w(utt, compute_features(torch.from_numpy(sf.read(path, dtype="float32")[0]), loaded.features).numpy())
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utt2spk.items()))
    config = graph_config(lexicon).resolved(loaded)
    isolated = IsolatedWords.from_config(loaded.tokenizer, config)
    reader = kaldiio.load_scp(str(data / "feats.scp"))
    with torch.no_grad():
        word_lps = {u: isolated.log_probs(loaded.model(torch.from_numpy(reader[u].copy())[None],
                                                       torch.tensor([len(reader[u])]))[0][0]) for u in paths}
    hyps = speaker_graph_hypotheses(loaded, config, data, word_lps)
    assert hyps == {**words, "s2-00": "B"}  # s2's one recording has no one to be decided with
    transcriber = Transcriber(loaded, decoder=graph_config(lexicon))
    s1 = [str(p) for u, p in paths.items() if u.startswith("s1")]
    transcriber.set_speaker(s1)
    assert [r.text for r in transcriber.transcribe_many(s1)] == [hyps[u] for u in paths if u.startswith("s1")]


def test_decode_with_each_writes_one_word_per_utterance_and_records_the_graph(tmp_path):
    texts = {f"spk{i % 2}-u{i}": "YES" if i % 3 else "NO" for i in range(8)}
    data, model = decode_setup(tmp_path, texts, CharTokenizer.build(texts.values()), [30 + 3 * i for i in
                                                                                          range(8)], 1)
    config = DecoderConfig(decoder="lm", lexicon=str(tmp_path / "lexicon.txt"), lm_weight=0.0, speaker_graph=2)
    out = tmp_path / "decode"
    (text,) = decode_with_each(model, data, [(out, config)], progress=False)
    hyps = read_table(text)
    assert sorted(hyps) == sorted(texts) and set(hyps.values()) <= {"YES", "NO"}
    settings = (out / "decode.yaml").read_text()
    assert "speaker_graph: 2" in settings and "graph_max_dist: 1.5" in settings
    loaded = load_model_dir(model)
    resolved = config.resolved(loaded)
    isolated = IsolatedWords.from_config(loaded.tokenizer, resolved)
    reader = kaldiio.load_scp(str(data / "feats.scp"))
    with torch.no_grad():
        word_lps = {u: isolated.log_probs(loaded.model(torch.from_numpy(reader[u].copy())[None],
                                                       torch.tensor([len(reader[u])]))[0][0]) for u in texts}
    assert hyps == speaker_graph_hypotheses(loaded, resolved, data, word_lps)


def test_decode_in_jobs_keeps_each_speaker_in_one_job_and_the_command_line_shows_the_graph(tmp_path):
    texts = {f"spk{i // 3}-u{i}": "YES" if i % 2 else "NO" for i in range(9)}
    data, model = decode_setup(tmp_path, texts, CharTokenizer.build(texts.values()), [30 + 3 * i for i in range(9)], 1)
    lexicon = tmp_path / "lexicon.txt"
    one = tmp_path / "one"
    result = CliRunner().invoke(app, ["decode", str(model), str(data), str(one), "--decoder", "lm", "--lexicon",
                                      str(lexicon), "--lm-weight", "0", "--speaker-graph", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    jobs = tmp_path / "jobs"
    decode_in_jobs(model, data, jobs, 2, config=DecoderConfig(decoder="lm", lexicon=str(lexicon), lm_weight=0.0,
                                                              speaker_graph=2))
    assert read_table(jobs / "text") == read_table(one / "text")
    assert (data / "split2").is_dir() and not (data / "split2utt").exists()  # whole speakers
    for part in (data / "split2").iterdir():
        speakers = set(read_table(part / "utt2spk").values())
        assert all(set(read_table(other / "utt2spk").values()).isdisjoint(speakers)
                   for other in (data / "split2").iterdir() if other != part)
    assert "--speaker-graph 2" in how(one, "data")


def test_isolated_words_score_an_ensembles_members_by_their_mean_and_the_card_names_the_graph(tmp_path):
    tokenizer = CharTokenizer(TOKENS)
    words = IsolatedWords(tokenizer, ["A", "B"])
    torch.manual_seed(0)
    members = torch.randn(3, 6, len(TOKENS)).log_softmax(-1)
    raw = np.array([[ctc_log_likelihood(m, unit_sequences(tokenizer, [w], words.lexicon)) for w in words.words]
                    for m in members]).mean(0)
    assert np.allclose(words.log_probs(members), raw - np.logaddexp.reduce(raw))
    assert words.best(members) == words.words[int(raw.argmax())]
    note = decoder_note(DecoderConfig(decoder="lm", lexicon="w.txt", speaker_graph=5).resolved())
    assert "speaker_graph 5" in note and "max distance 1.5" in note
