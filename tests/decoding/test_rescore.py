"""N-best rescoring (asr.decoding.rescore): the full CTC likelihood over every alignment and pronunciation, the
ARPA scorer it adds the LM with, and sequence-level combination of an ensemble's members."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.decoding.lm import LexiconLMDecoder
from asr.decoding.ngram import ArpaLM, NGramLM
from asr.decoding.rescore import NBestRescorer, ctc_log_likelihood, unit_sequences
from asr.export.package import export_model, load_package
from asr.model.ensemble import build_ensemble, log_probs_and_members
from asr.model.store import load_model_dir
from asr.text.phone import PhoneTokenizer
from asr.text.tokenizer import CharTokenizer
from asr.transcribe import Transcriber
from helpers.decode import TOKENS, frames
from helpers.transcribe import make_model_dir


def brute_force(log_probs: torch.Tensor, target: list[int]) -> float:
    """ln p(target) by enumerating every frame labelling that collapses to it."""
    total = 0.0
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        collapsed = [k for i, k in enumerate(path) if k != 0 and (i == 0 or k != path[i - 1])]
        if collapsed == target:
            total += math.exp(sum(float(log_probs[t, k]) for t, k in enumerate(path)))
    return math.log(total)


def test_ctc_likelihood_sums_every_alignment_and_every_spelling():
    torch.manual_seed(0)
    lp = torch.randn(5, 4).log_softmax(-1)
    assert ctc_log_likelihood(lp, [[1, 2]]) == pytest.approx(brute_force(lp, [1, 2]), abs=1e-5)
    assert ctc_log_likelihood(lp, [[1, 1]]) == pytest.approx(brute_force(lp, [1, 1]), abs=1e-5)
    both = math.log(math.exp(brute_force(lp, [1, 2])) + math.exp(brute_force(lp, [3])))
    assert ctc_log_likelihood(lp, [[1, 2], [3]]) == pytest.approx(both, abs=1e-5)
    tok = PhoneTokenizer(["<blank>", "<unk>", "<space>", "AH", "EY", "B"], {"A": [["AH"], ["EY"]], "B": [["B"]]})
    assert unit_sequences(tok, ("A", "B"), tok.lexicon) == [[3, 2, 5], [4, 2, 5]]


def test_the_arpa_scorer_gives_the_models_probabilities(tmp_path):
    text = ["A B C", "A B", "B C A", "C C"]
    model = NGramLM(text, order=3)
    lm = ArpaLM(model.to_arpa(tmp_path / "lm.arpa"))
    for words in (["A", "B", "C"], ["C", "A"], ["B", "Z"], []):
        toks = ["<s>", *words, "</s>"]
        expected = sum(math.log(model.prob(tuple(toks[max(0, i - 2):i + 1]))) for i in range(1, len(toks)))
        assert lm.score(words) == pytest.approx(expected, abs=1e-4)
    (tmp_path / "bad.arpa").write_text("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\n")
    with pytest.raises(Exception, match=r"bad.arpa:5: expected"):
        ArpaLM(tmp_path / "bad.arpa")


def test_rescoring_prefers_the_word_with_more_probability_over_all_its_alignments():
    """A has one strong path (0.6 x 0.7^3 = 0.21); B has six weaker ones that sum to 0.24: the best-path
    search says A, the full likelihood B."""
    tok = CharTokenizer(TOKENS)
    lp = frames({"A": 0.6, "<blank>": 0.4}, *[{"B": 0.3, "<blank>": 0.7}] * 3)
    assert LexiconLMDecoder(tok, ["A", "B"]).decode(lp[None], torch.tensor([4]))[0] == ["A"]
    rescorer = NBestRescorer(tok, ["A", "B"], nbest=5)
    assert set(rescorer.candidates(lp[None])) >= {("A",), ("B",)}
    assert rescorer.decode_one(lp[None]) == ["B"]


def test_sequence_combination_needs_no_shared_alignment():
    """Two members say A, each at its own frame; the mean of their posteriors halves both spikes and lets the B
    they share win; the product of their sequence probabilities keeps A."""
    tok = CharTokenizer(TOKENS)
    m1 = frames({"A": 0.9, "<blank>": 0.1}, {"B": 0.6, "<blank>": 0.4}, {"<blank>": 1}, {"<blank>": 1})
    m2 = frames({"<blank>": 1}, {"B": 0.6, "<blank>": 0.4}, {"A": 0.9, "<blank>": 0.1}, {"<blank>": 1})
    members = torch.stack([m1, m2])
    mean = members.logsumexp(0) - math.log(2)
    assert LexiconLMDecoder(tok, ["A", "B"]).decode(mean[None], torch.tensor([4]))[0] == ["B"]
    assert NBestRescorer(tok, ["A", "B"]).decode_one(members) == ["A"]
    cache = {}
    cached = NBestRescorer(tok, ["A", "B"], cache=cache)
    assert cached.decode_one(members) == ["A"] and cache
    assert cached.decode_one(members) == ["A"]  # from the cache


@pytest.fixture
def sequence_ensemble(tmp_path):
    members = [make_model_dir(tmp_path / "a", seed=1), make_model_dir(tmp_path / "b", seed=2, hidden_size=24)]
    result = CliRunner().invoke(app, ["ensemble", *map(str, members), "--out", str(tmp_path / "e"),
                                      "--combine", "sequence"])
    assert result.exit_code == 0, result.output
    assert "sequence-level combination of 2 models" in result.output
    return tmp_path / "e", members


def test_a_sequence_ensemble_gives_its_members_to_the_rescoring(sequence_ensemble, tmp_path):
    ens_dir, members = sequence_ensemble
    assert yaml.safe_load((ens_dir / "config.yaml").read_text())["ensemble"]["combine"] == "sequence"
    ens = load_model_dir(ens_dir).model
    torch.manual_seed(0)
    x, lengths = torch.randn(2, 37, 40) * 3, torch.tensor([37, 28])
    with torch.inference_mode():
        mean, out_lengths, each = log_probs_and_members(ens, x, lengths)
        singles = [load_model_dir(m).model(x, lengths)[0] for m in members]
    assert each.shape[0] == 2 and torch.allclose(each[1], singles[1], atol=1e-6)
    assert torch.allclose(mean.exp(), (singles[0].exp() + singles[1].exp()) / 2, atol=1e-6)
    assert load_package(export_model(ens_dir, tmp_path / "e.asr")).model.combine == "sequence"
    with pytest.raises(Exception, match="--combine frames: expected posterior or sequence"):
        build_ensemble(members, tmp_path / "x", combine="frames")


def test_a_sequence_ensemble_transcribes_through_the_rescoring(sequence_ensemble, tmp_path, tone_wav):
    ens_dir, _ = sequence_ensemble
    (tmp_path / "lexicon.txt").write_text("YES Y E S\nNO N O\n")
    lm = NGramLM(["YES NO", "NO YES", "YES"], order=2).to_arpa(tmp_path / "lm.arpa")
    from asr.decoding.config import DecoderConfig

    config = DecoderConfig(decoder="lm", lexicon=str(tmp_path / "lexicon.txt"), lm=str(lm))
    transcriber = Transcriber.from_pretrained(ens_dir, "cpu", decoder=config)
    assert transcriber.decoder_config.resolved(transcriber.loaded).nbest == 20  # the default for such a model
    text = transcriber.transcribe(str(tone_wav)).text
    assert set(text.split()) <= {"YES", "NO"}
