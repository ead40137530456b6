"""Output units: characters, BPE (sentencepiece) and phones (lexicon); one tokens.txt format, kind from the dir."""

import pytest

from asr.errors import DataError
from asr.text.bpe import BPETokenizer
from asr.text.phone import PhoneTokenizer, read_lexicon
from asr.text.tokenizer import CharTokenizer, load_tokenizer, tokenizer_from_dir

TEXTS = ["ONE TWO THREE", "TWO TWO ONE", "THREE ONE", "RUBOUT ENTER", "ONE", "E N T E R"] * 5
LEXICON = "ONE W AH N\nTWO T UW\nTHREE TH R IY\nRUBOUT R AH B AW T\nENTER EH N T ER\nE IY\nN EH N\nR AA R\nT T IY\n" \
          "A AH\nA EY\nSIL SIL\n"


def test_char_round_trip_and_spellings(tmp_path):
    tok = CharTokenizer.build(TEXTS)
    tok.save_dir(tmp_path)
    again = tokenizer_from_dir(tmp_path)
    assert type(again) is CharTokenizer and again.tokens == tok.tokens
    assert again.decode(again.encode("ONE TWO")) == "ONE TWO"
    assert tok.spellings("TWO") == [["T", "W", "O"]] and tok.spellings("ZOO") == []
    assert tok.unknown("ZOO ONE") == ["Z"]


def test_bpe_round_trip(tmp_path):
    tok = BPETokenizer.build(TEXTS, vocab_size=30)
    assert tok.tokens[:3] == ["<blank>", "<unk>", "<space>"] and len(tok) <= 33
    ids = tok.encode("THREE ONE TWO")
    assert 1 not in ids and 2 not in ids
    assert len(ids) < len("THREEONETWO")  # merged pieces
    assert tok.decode(ids) == "THREE ONE TWO"
    tok.save_dir(tmp_path)
    again = load_tokenizer(tmp_path / "tokens.txt")
    assert type(again) is BPETokenizer and again.encode("THREE ONE TWO") == ids
    assert sum(len(s) for s in again.spellings("THREE")) >= 1
    assert again.unknown("ONE QUUX") == ["QUUX"]


def test_phone_round_trip(tmp_path):
    (tmp_path / "lex.txt").write_text(LEXICON)
    lexicon = read_lexicon(tmp_path / "lex.txt")
    assert lexicon["A"] == [["AH"], ["EY"]]
    tok = PhoneTokenizer.build(lexicon)
    assert "SIL" not in tok.tokens and "SIL" not in tok.lexicon  # silence is no CTC unit
    ids = tok.encode("ONE TWO")
    assert [tok.tokens[i] for i in ids] == ["W", "AH", "N", "<space>", "T", "UW"]
    assert tok.decode(ids) == "W AH N T UW" and tok.units_text("ONE TWO") == "W AH N T UW"
    assert tok.encode("ONE ZEBRA") == ids[:3] + [2, 1]
    assert tok.spellings("A") == [["AH"], ["EY"]] and not tok.word_level
    (tmp_path / "lang").mkdir()
    tok.save_dir(tmp_path / "lang")
    again = tokenizer_from_dir(tmp_path / "lang")
    assert type(again) is PhoneTokenizer and again.encode("ONE TWO") == ids and again.lexicon == tok.lexicon


def test_bad_lexicon_and_tokens(tmp_path):
    (tmp_path / "lex.txt").write_text("ONE W AH N\nTWO\n")
    with pytest.raises(DataError, match=r"lex.txt:2: word 'TWO' has no phones"):
        read_lexicon(tmp_path / "lex.txt")
    (tmp_path / "tokens.txt").write_text("<blank> 0\n<unk> 1\n<space> 3\n")
    with pytest.raises(DataError, match=r"tokens.txt:3: expected id 2"):
        load_tokenizer(tmp_path / "tokens.txt")
