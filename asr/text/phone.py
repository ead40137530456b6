"""Phone units through a pronunciation lexicon (EESEN's phone CTC): `tokens.txt` + `lexicon.txt` in one dir.

lexicon.txt is Kaldi's `WORD PH1 PH2 ...` (a word may have several lines, one per pronunciation). A transcript
becomes the first pronunciation of each word, words joined by `<space>`; a word not in the lexicon becomes
`<unk>`; encode_variants() gives the other pronunciations too (for `training.pronunciations: all`). decode()
gives the phones (space-separated, word boundaries left out), so the figures computed on it are phone error
rates; words come back only through a lexicon decoder (asr.decoding.lm), which uses `spellings` (every
pronunciation).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterable

from asr.data.kaldi_files import read_entries
from asr.errors import DataError
from asr.text.tokenizer import BLANK, SPACE, TOKENS, UNK, Tokenizer, read_tokens

LEXICON = "lexicon.txt"
SILENCE = {"SIL", "sil", "<sil>", "!SIL"}


def read_lexicon(path: str | os.PathLike) -> dict[str, list[list[str]]]:
    """word -> pronunciations, in file order, duplicates dropped; a word without phones is an error."""
    lexicon: dict[str, list[list[str]]] = {}
    for e in read_entries(path):
        phones = e.value.split()
        if not phones:
            raise DataError(f"{path}:{e.line}: word '{e.key}' has no phones")
        prons = lexicon.setdefault(e.key, [])
        if phones not in prons:
            prons.append(phones)
    if not lexicon:
        raise DataError(f"{path}: empty lexicon")
    return lexicon


def write_lexicon(lexicon: dict[str, list[list[str]]], path: str | os.PathLike) -> None:
    from asr.fileio import atomic_write_text

    atomic_write_text(path, "".join(f"{w} {' '.join(p)}\n" for w in sorted(lexicon) for p in lexicon[w]))


class PhoneTokenizer(Tokenizer):
    kind = "phone"
    word_level = False
    space_between_words = True

    def __init__(self, tokens: list[str], lexicon: dict[str, list[list[str]]]):
        super().__init__(tokens)
        self.lexicon = lexicon
        for word, prons in lexicon.items():
            for p in prons:
                missing = [ph for ph in p if ph not in self.index]
                if missing:
                    raise DataError(f"lexicon word '{word}' has phones not among the tokens: {missing}")

    @classmethod
    def build(cls, lexicon: dict[str, list[list[str]]]) -> "PhoneTokenizer":
        phones = sorted({ph for prons in lexicon.values() for p in prons for ph in p} - SILENCE)
        lexicon = {w: [p for p in prons if not set(p) & SILENCE] for w, prons in lexicon.items()}
        return cls([BLANK, UNK, SPACE] + phones, {w: prons for w, prons in lexicon.items() if prons})

    @classmethod
    def load_dir(cls, directory: str | os.PathLike, tokens: str | os.PathLike | None = None) -> "PhoneTokenizer":
        directory = Path(directory)
        return cls(read_tokens(tokens or directory / TOKENS), read_lexicon(directory / LEXICON))

    def save_dir(self, directory: str | os.PathLike) -> None:
        self.save(Path(directory) / TOKENS)
        write_lexicon(self.lexicon, Path(directory) / LEXICON)

    def encode(self, text: str) -> list[int]:
        return self.encode_variants(text, 1)[0]

    def encode_variants(self, text: str, limit: int) -> list[list[int]]:
        """encode(text) with each word in every pronunciation, in lexicon order (the first is encode()'s), the
        first `limit` of the combinations."""
        choices = [[[self.index[p] for p in pron] for pron in self.lexicon.get(w) or [[UNK]]]
                   for w in text.split()]
        variants = []
        for combo in itertools.islice(itertools.product(*choices), limit):
            ids = []
            for w, pron in enumerate(combo):
                ids.extend(([2] if w else []) + pron)
            variants.append(ids)
        return variants or [[]]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.tokens[i] for i in ids if i > 2 or i == 1)

    def spellings(self, word: str) -> list[list[str]]:
        return self.lexicon.get(word, [])
