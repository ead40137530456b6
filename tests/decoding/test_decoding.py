"""Decoders: CTC prefix beam search, word n-gram LM (ARPA), lexicon + LM decoding, LM weight tuning."""

import math

import pytest
import torch

from asr.decoding.beam import beam_decode, prefix_beam_search
from asr.decoding.greedy import greedy_decode
from asr.decoding.ngram import NGramLM, build_arpa, discounts
from asr.text.tokenizer import CharTokenizer


def ctc_path_sum(log_probs, labels, blank=0):
    """Brute-force p(labels | x): sum over every frame-level path that collapses to `labels`."""
    import itertools

    t_len, vocab = log_probs.shape
    total = 0.0
    for path in itertools.product(range(vocab), repeat=t_len):
        collapsed = [c for k, c in enumerate(path) if c != blank and (k == 0 or path[k - 1] != c)]
        if collapsed == labels:
            total += math.exp(sum(log_probs[t, c].item() for t, c in enumerate(path)))
    return total


def peaky(t_len, vocab, top=0.9, seed=0):
    """CTC-like outputs: each frame's best token (blank half of the time) has probability `top`."""
    g = torch.Generator().manual_seed(seed)
    best = torch.where(torch.rand(t_len, generator=g) < 0.5, 0, torch.randint(1, vocab, (t_len,), generator=g))
    rest = torch.rand(t_len, vocab, generator=g)
    rest[torch.arange(t_len), best] = 0
    probs = rest / rest.sum(-1, keepdim=True) * (1 - top)
    probs[torch.arange(t_len), best] = top
    return probs.log()


def test_beam_one_equals_greedy_on_peaky_outputs():
    for seed in range(30):
        lp = peaky(80, 8, seed=seed)
        assert prefix_beam_search(lp, beam_size=1)[0][0] == greedy_decode(lp[None], torch.tensor([80]))[0]


def test_beam_finds_the_prefix_greedy_misses():
    # two frames, p(blank) = 0.6, p(a) = 0.4: the best path is "" (0.36), but "a" has 0.16 + 2 * 0.24 = 0.64
    lp = torch.log(torch.tensor([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy_decode(lp[None], torch.tensor([2]))[0] == []
    (best, score), (second, score2) = prefix_beam_search(lp, beam_size=4, nbest=2)
    assert best == [1] and second == []
    assert math.exp(score) == pytest.approx(0.64) and math.exp(score2) == pytest.approx(0.36)


def test_prefix_scores_are_exact_sums_over_paths():
    torch.manual_seed(1)
    lp = torch.randn(5, 3).log_softmax(-1)
    for labels, score in prefix_beam_search(lp, beam_size=50, nbest=50):
        assert math.exp(score) == pytest.approx(ctc_path_sum(lp, labels), rel=1e-6)


def test_beam_decode_batch_respects_lengths():
    torch.manual_seed(2)
    lp = (torch.randn(2, 30, 6) * 5).log_softmax(-1)
    out = beam_decode(lp, torch.tensor([30, 10]), beam_size=8)
    assert out[1] == prefix_beam_search(lp[1, :10], 8)[0][0]


SENTS = ["ONE TWO THREE", "ONE TWO", "TWO THREE ONE", "THREE", "ONE ONE TWO"]


def test_kneser_ney_distributions_sum_to_one():
    lm = NGramLM(SENTS * 3 + ["ENTER RUBOUT"], order=3, vocabulary=["FOUR"])
    assert "FOUR" in lm.vocab and "<s>" not in lm.vocab
    for history in [(), ("<s>",), ("ONE",), ("<s>", "ONE"), ("ONE", "TWO"), ("FOUR",), ("FOUR", "ENTER")]:
        assert sum(lm.prob(history + (w,)) for w in lm.vocab) == pytest.approx(1.0, abs=1e-9)
    assert lm.prob(("ONE", "TWO")) > lm.prob(("ONE", "THREE")) > 0
    assert lm.prob(("<s>", "FOUR")) > 0  # a lexicon word never seen still gets mass


def test_arpa_file_matches_model(tmp_path):
    (tmp_path / "text").write_text("\n".join(SENTS) + "\n")
    path = build_arpa(tmp_path / "text", tmp_path / "lm.arpa", order=2)
    lines = path.read_text().splitlines()
    assert lines[0] == "\\data\\" and lines[-1] == "\\end\\"
    n1 = int(next(line for line in lines if line.startswith("ngram 1=")).split("=")[1])
    lm = NGramLM(SENTS, order=2)
    assert n1 == len(lm.vocab) + 1  # + <s>
    entry = next(line for line in lines if line.endswith("\tONE TWO") or "\tONE TWO\t" in line)
    assert float(entry.split("\t")[0]) == pytest.approx(math.log10(lm.prob(("ONE", "TWO"))), abs=1e-5)


def test_discounts_fall_back_when_counts_are_too_few():
    assert discounts([1, 1, 1]) == (0.5, 1.0, 1.5)
    d1, d2, d3 = discounts([1] * 50 + [2] * 20 + [3] * 10 + [4] * 5)
    assert 0 < d1 < 1 < d2 < 2 and d2 <= d3 < 3


def emissions(tok, units, confuse=None, frames_per_unit=2):
    """Log-probs that spell `units`, each followed by blank; confuse={pos: (unit, logit)} adds a rival."""
    lp = torch.full((len(units) * frames_per_unit, len(tok)), -10.0)
    for k, u in enumerate(units):
        lp[frames_per_unit * k, tok.index[u]] = 0.0
        lp[frames_per_unit * k + 1:frames_per_unit * (k + 1), 0] = 0.0
    for k, (u, logit) in (confuse or {}).items():
        lp[frames_per_unit * k, tok.index[u]] = logit
    return lp.log_softmax(-1)


@pytest.fixture
def char_tok():
    return CharTokenizer.build(["YES NO", "ONE TWO"])


def test_lexicon_decoding_fixes_a_spelling(char_tok):
    pytest.importorskip("flashlight.lib.text")
    from asr.decoding.lm import LexiconLMDecoder

    lp = emissions(char_tok, "Y E O <space> N O".split(), confuse={2: ("S", -0.5)})  # greedy: "YEO NO"
    assert char_tok.decode(greedy_decode(lp[None], torch.tensor([len(lp)]))[0]) == "YEO NO"
    dec = LexiconLMDecoder(char_tok, ["YES", "NO", "ONE", "TWO"], lm=None)
    assert dec.decode(lp[None], torch.tensor([len(lp)])) == [["YES", "NO"]]
    assert char_tok.decode(dec.decode_ids(lp)) == "YES NO"


def test_lexicon_decoding_keeps_a_double_letter():
    pytest.importorskip("flashlight.lib.text")
    from asr.decoding.lm import LexiconLMDecoder

    tok = CharTokenizer.build(["HELLO NO"])
    lp = emissions(tok, "H E L L O".split())
    dec = LexiconLMDecoder(tok, ["HELLO", "NO"])
    assert dec.decode(lp[None], torch.tensor([len(lp)])) == [["HELLO"]]
    assert tok.decode(dec.decode_ids(lp)) == "HELLO"


def test_lm_weight_decides_between_acoustic_rivals(char_tok, tmp_path):
    pytest.importorskip("flashlight.lib.text")
    from asr.decoding.lm import LexiconLMDecoder

    # acoustics prefer "ONE ONE" a little; the LM has only seen "ONE TWO"
    NGramLM(["ONE TWO"] * 20 + ["TWO ONE"], order=2).to_arpa(tmp_path / "lm.arpa")
    units = "O N E <space> O N E".split()
    lp = emissions(char_tok, units, confuse={4: ("T", -0.3), 5: ("W", -0.3), 6: ("O", -0.3)})
    lengths = torch.tensor([len(lp)])
    no_lm = LexiconLMDecoder(char_tok, ["ONE", "TWO"], tmp_path / "lm.arpa", lm_weight=0.0)
    with_lm = LexiconLMDecoder(char_tok, ["ONE", "TWO"], tmp_path / "lm.arpa", lm_weight=2.0)
    assert no_lm.decode(lp[None], lengths) == [["ONE", "ONE"]]
    assert with_lm.decode(lp[None], lengths) == [["ONE", "TWO"]]


def test_read_words_from_lexicon_and_arpa(tmp_path):
    from asr.decoding.lm import read_words

    (tmp_path / "lex").write_text("ONE W AH N\nA AH\nA EY\n")
    assert read_words(tmp_path / "lex") == ["ONE", "A", "A"]
    NGramLM(SENTS, 2).to_arpa(tmp_path / "lm.arpa")
    assert sorted(read_words(tmp_path / "lm.arpa")) == ["ONE", "THREE", "TWO"]


def test_lexicon_decoding_with_phones_and_bpe(tmp_path):
    pytest.importorskip("flashlight.lib.text")
    from asr.decoding.lm import LexiconLMDecoder
    from asr.text.bpe import BPETokenizer
    from asr.text.phone import PhoneTokenizer

    phones = PhoneTokenizer.build({"A": [["AH"], ["EY"]], "TWO": [["T", "UW"]], "TEA": [["T", "IY"]]})
    lp = emissions(phones, "EY <space> T UW".split())  # A's second pronunciation
    dec = LexiconLMDecoder(phones, ["A", "TWO", "TEA"])
    assert dec.decode(lp[None], torch.tensor([len(lp)])) == [["A", "TWO"]]

    bpe = BPETokenizer.build(["ONE TWO THREE", "TWO THREE", "THREE ONE"] * 10, vocab_size=20)
    units = [bpe.tokens[i] for i in bpe.encode("THREE TWO")]
    lp = emissions(bpe, units)
    dec = LexiconLMDecoder(bpe, ["ONE", "TWO", "THREE"])
    assert dec.decode(lp[None], torch.tensor([len(lp)])) == [["THREE", "TWO"]]


def test_last_unit_repeated_over_frames(char_tok):
    """CTC often holds a word's last letter for several frames; the word must still come out (and the last
    word of the utterance too, with no <space> after it)."""
    pytest.importorskip("flashlight.lib.text")
    from asr.decoding.lm import LexiconLMDecoder

    frames = "Y E S S S <space> N O O O".split()
    lp = torch.full((len(frames), len(char_tok)), -12.0)
    for t, u in enumerate(frames):
        lp[t, char_tok.index[u]] = 0.0
    lp = lp.log_softmax(-1)
    assert char_tok.decode(greedy_decode(lp[None], torch.tensor([len(lp)]))[0]) == "YES NO"
    dec = LexiconLMDecoder(char_tok, ["YES", "NO", "ONE"])
    assert dec.decode(lp[None], torch.tensor([len(lp)])) == [["YES", "NO"]]
    assert char_tok.decode(dec.decode_ids(lp)) == "YES NO"


def test_decoder_config_fills_what_it_leaves_open(tmp_path):
    """lexicon/lm: the config's, else the model file's; lm_weight/word_score: the config's, else its lm_params',
    else the model file's, else 1 and 0."""
    from types import SimpleNamespace

    from asr.decoding.config import DecoderConfig

    (tmp_path / "p.yaml").write_text("lm_weight: 0.5\nword_score: 2\n")
    packed = SimpleNamespace(config={"decoding": {"lexicon": "L", "lm": "M", "lm_weight": 3.0, "word_score": -1.0}})
    got = DecoderConfig("lm").resolved(packed)
    assert (got.lexicon, got.lm, got.lm_weight, got.word_score) == ("L", "M", 3.0, -1.0)
    got = DecoderConfig("lm", lm_params=str(tmp_path / "p.yaml"), word_score=1).resolved(packed)
    assert (got.lm_weight, got.word_score) == (0.5, 1.0)
    got = DecoderConfig("lm", lexicon="X").resolved()
    assert (got.lexicon, got.lm, got.lm_weight, got.word_score) == ("X", None, 1.0, 0.0)
    assert DecoderConfig("greedy").resolved(packed).lm is None


def test_decoder_config_check():
    from types import SimpleNamespace

    from asr.decoding.config import DecoderConfig
    from asr.errors import ConfigError

    for config, message in [(DecoderConfig("viterbi"), "unknown decoder 'viterbi'"),
                            (DecoderConfig("beam", beam_size=0), "--beam-size must be at least 1"),
                            (DecoderConfig("lm"), "--decoder lm needs --lm"),
                            (DecoderConfig("lm", lm="x", tune_word_scores=[0], lm_params="p"), "not both")]:
        with pytest.raises(ConfigError, match=message):
            config.check()
    packed = SimpleNamespace(config={"decoding": {"lexicon": "L"}}, tokenizer=CharTokenizer.build(["A"]))
    assert DecoderConfig("lm").check(packed).decoder == "lm"  # the model file packs a vocabulary
