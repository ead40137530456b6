"""`training.pronunciations: all`: a word with several pronunciations in the lexicon is trained on all of them,
the CTC loss of an utterance being -log of the sum over its pronunciation sequences (as a CTC graph composed with
a lexicon, icefall/k2's, sums over them), where `first` trains on the first only."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import yaml

from asr.data.dataset import Batch, FeatureDataset, Variants
from asr.errors import ConfigError
from asr.model.model import CTCModel, ModelConfig, ctc_loss_over_variants, ctc_min_frames
from asr.text.phone import PhoneTokenizer
from asr.training.run import TrainConfig
from asr.training.trainer import evaluate, train, train_step
from helpers.training import CONFIG, make_data

LEXICON = {"ONE": [["HH", "W", "AH", "N"], ["W", "AH", "N"]], "A": [["AH"], ["EY"]], "TWO": [["T", "UW"]]}


def test_encode_variants_gives_every_pronunciation_sequence_first_first():
    tok = PhoneTokenizer.build(LEXICON)
    variants = tok.encode_variants("A TWO ONE", 64)
    assert variants[0] == tok.encode("A TWO ONE")
    assert [tok.decode(v) for v in variants] == ["AH T UW HH W AH N", "AH T UW W AH N", "EY T UW HH W AH N",
                                                 "EY T UW W AH N"]
    assert all(v.count(2) == 2 for v in variants)  # <space> between the words
    assert len(tok.encode_variants("A A A A ONE", 5)) == 5
    assert tok.encode_variants("TWO ZEBRA", 64) == [tok.encode("TWO ZEBRA")]  # an unknown word: <unk>, one way


def ctc(log_probs, i, seq, frames):
    return F.ctc_loss(log_probs[i:i + 1].transpose(0, 1), torch.tensor(seq), torch.tensor([frames]),
                      torch.tensor([len(seq)]), reduction="sum")


def test_the_loss_is_minus_log_the_sum_over_an_utterances_sequences():
    torch.manual_seed(0)
    logits = torch.randn(3, 12, 6, requires_grad=True)
    log_probs = logits.log_softmax(-1)
    frames = torch.tensor([12, 10, 8])
    first = [[1, 2, 3], [4, 4], [5]]
    others = [(0, [1, 3]), (0, [3, 2, 1]), (2, [5] * 7)]  # [5] * 7 needs 13 frames: it cannot be emitted in 8
    variants = Variants(torch.tensor([r for r, _ in others]), torch.tensor(sum((s for _, s in others), [])),
                        torch.tensor([len(s) for _, s in others]))
    got = ctc_loss_over_variants(log_probs, frames, torch.tensor(sum(first, [])), torch.tensor([3, 2, 1]),
                                 variants)
    utt0 = -torch.logsumexp(-torch.stack([ctc(log_probs, 0, s, 12) for s in (first[0], [1, 3], [3, 2, 1])]), 0)
    torch.testing.assert_close(got, torch.stack([utt0, ctc(log_probs, 1, first[1], 10),
                                                 ctc(log_probs, 2, first[2], 8)]))
    assert got[0] < min(ctc(log_probs, 0, s, 12) for s in (first[0], [1, 3], [3, 2, 1]))
    got.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_an_utterance_no_sequence_of_which_fits_costs_nothing_and_keeps_gradients_finite():
    logits = torch.randn(2, 4, 6, requires_grad=True)
    variants = Variants(torch.tensor([0]), torch.tensor([2, 2, 2]), torch.tensor([3]))  # 2 2 2 needs 5 frames
    got = ctc_loss_over_variants(logits.log_softmax(-1), torch.tensor([4, 4]), torch.tensor([1, 1, 1, 3]),
                                 torch.tensor([3, 1]), variants)
    assert got[0] == 0 and got[1] > 0
    got.sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0].abs().sum() == 0


def test_min_frames_counts_a_blank_between_equal_neighbours_within_a_sequence_only():
    assert ctc_min_frames(torch.tensor([1, 1, 1, 2, 2, 3]), torch.tensor([2, 4])).tolist() == [3, 5]


def test_without_variants_the_loss_is_the_plain_ctc_loss():
    net = CTCModel(ModelConfig(input_dim=6, vocab_size=6, num_layers=1, hidden_size=8, stack_frames=1,
                               subsample=1)).eval()
    b = Batch(["a", "b"], torch.randn(2, 15, 6), torch.tensor([15, 9]), torch.tensor([1, 2, 3, 4]),
              torch.tensor([3, 1]))
    log_probs, lengths = net(b.feats, b.lengths)
    none = Variants(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                    torch.zeros(0, dtype=torch.long))
    torch.testing.assert_close(net.ctc_loss(log_probs, lengths, b.targets, b.target_lengths, none),
                               net.ctc_loss(log_probs, lengths, b.targets, b.target_lengths))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    plain = train_step(net, opt, b, 5.0).loss
    b.variants = Variants(torch.tensor([1]), torch.tensor([5]), torch.tensor([1]))
    assert train_step(net, opt, b, 5.0).loss < plain  # utterance b: -log(P(4) + P(5))


def phone_data(tmp_path):
    """make_data's a/b transcripts read as words of a lexicon: `a` has two pronunciations, `b` one."""
    lang = tmp_path / "lang"
    lang.mkdir()
    tok = PhoneTokenizer.build({"a": [["P"], ["Q", "R"]], "b": [["R"]], "ab": [["P", "R"]], "ba": [["R", "P"]]})
    for word in ("aa", "bb", "aaa", "aab", "aba", "abb", "baa", "bab", "bba", "bbb"):
        tok.lexicon[word] = [["P"] * len(word)]
    tok.lexicon["aa"].append(["Q", "Q"])
    tok.save_dir(lang)
    return tok, lang / "tokens.txt", (make_data(tmp_path, "train", 12, 0), make_data(tmp_path, "dev", 4, 1))


def test_datasets_collate_the_other_sequences_only_when_asked(tmp_path):
    tok, _, (train_dir, _) = phone_data(tmp_path)
    plain, every = FeatureDataset(train_dir, tok), FeatureDataset(train_dir, tok, variants=64)
    indices = list(range(len(plain)))
    assert plain.collate(indices).variants is None
    v = every.collate(indices).variants
    expected = [(row, s) for row, t in enumerate(every.texts) for s in tok.encode_variants(t, 64)[1:]]
    assert v.rows.tolist() == [row for row, _ in expected] and len(expected) > 0
    assert v.targets.tolist() == sum((s for _, s in expected), [])
    before = every.collate([3, 1]).variants
    every.keep([3, 1])
    after = every.collate([0, 1]).variants
    assert after.rows.tolist() == before.rows.tolist() and after.targets.tolist() == before.targets.tolist()


def test_training_on_every_pronunciation(tmp_path):
    _, tokens, data = phone_data(tmp_path)
    config = copy.deepcopy(CONFIG)
    config["training"]["epochs"] = 2
    train(copy.deepcopy(config), *data, tokens, tmp_path / "first", progress=False)
    config["training"]["pronunciations"] = "all"
    train(copy.deepcopy(config), *data, tokens, tmp_path / "all", progress=False)
    assert yaml.safe_load((tmp_path / "all" / "config.yaml").read_text())["training"]["pronunciations"] == "all"
    first, every = (torch.load(tmp_path / d / "model.pt", weights_only=False) for d in ("first", "all"))
    first, every = (x.get("model", x) for x in (first, every))
    assert not torch.equal(first["output.weight"], every["output.weight"])


def test_an_unknown_choice_is_a_config_error():
    with pytest.raises(ConfigError, match="pronunciations"):
        TrainConfig.from_dict({"pronunciations": "best"})


class SaysLastPronunciation:
    """A stand-in model whose greedy output is each utterance's last pronunciation sequence (it knows an utterance
    by its first feature value)."""

    def __init__(self, data: FeatureDataset, tok: PhoneTokenizer):
        self.vocab = len(tok.tokens)
        self.says = {round(f[0, 0].item(), 4): tok.encode_variants(t, 64)[-1] for f, t in zip(data.feats, data.texts)}

    def __call__(self, feats, lengths):
        seqs = [self.says[round(f[0, 0].item(), 4)] for f in feats]
        frames = max(2 * len(s) + 1 for s in seqs)
        scores = torch.zeros(len(seqs), frames, self.vocab)
        scores[:, :, 0] = 10.0  # blank between the units
        for n, s in enumerate(seqs):
            for k, unit in enumerate(s):
                scores[n, 2 * k + 1, unit] = 20.0
        return scores.log_softmax(-1), torch.full((len(seqs),), frames)

    def ctc_loss(self, *args):
        return torch.tensor(0.0)

    def eval(self):
        pass

    def train(self):
        pass


def test_dev_error_rates_count_the_nearest_pronunciation(tmp_path):
    tok, _, (_, dev_dir) = phone_data(tmp_path)
    plain, every = FeatureDataset(dev_dir, tok), FeatureDataset(dev_dir, tok, variants=64)
    assert any(len(tok.encode_variants(t, 64)) > 1 for t in plain.texts)
    model = SaysLastPronunciation(plain, tok)
    against_first = evaluate(model, plain, tok, 1000, "cpu")
    nearest = evaluate(model, every, tok, 1000, "cpu")
    assert against_first["wer"] > 0 and against_first["cer"] > 0
    assert nearest["wer"] == 0 and nearest["cer"] == 0
