"""CTC output units, stored as Kaldi/ESPnet `tokens.txt` (`token id` per line), and the common interface.

Every kind keeps the same `tokens.txt`: id 0 is `<blank>` (the CTC blank), 1 is `<unk>`, 2 is `<space>` (the
word boundary); the units follow. A kind is told by the file saved beside tokens.txt (`load_tokenizer`):

    char    tokens.txt only: characters of the training text, sorted (this module)
    bpe     + bpe.model: sentencepiece BPE pieces (asr.text.bpe)
    phone   + lexicon.txt: phones of a pronunciation lexicon, words joined by <space> (asr.text.phone)
    word    + words.txt (Kaldi's word symbol table): whole words, for closed vocabularies such as yes/no

`spellings(word)` gives the unit sequences of a word, for lexicon-constrained decoding (asr.decoding.lm).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from asr.data.kaldi_files import read_entries
from asr.errors import DataError
from asr.fileio import atomic_write

BLANK, UNK, SPACE = "<blank>", "<unk>", "<space>"


TOKENS = "tokens.txt"


def read_tokens(path: str | os.PathLike) -> list[str]:
    """The symbols of a tokens.txt, checked to be numbered 0, 1, 2, ... in order."""
    tokens = []
    for e in read_entries(path):
        if e.value != str(len(tokens)):
            raise DataError(f"{path}:{e.line}: expected id {len(tokens)} for '{e.key}', got '{e.value}'")
        tokens.append(e.key)
    return tokens


class Tokenizer:
    """The interface of every unit kind: text <-> ids, the units of a word, saving into a model dir."""

    kind = "base"
    word_level = True  # decode() gives words (False for phones: WER needs a lexicon decoder)
    space_between_words = False  # encode() puts the `<space>` unit between words (char, phone)

    def __init__(self, tokens: list[str]):
        if tokens[:3] != [BLANK, UNK, SPACE]:
            raise DataError(f"tokens must start with {BLANK} {UNK} {SPACE}, got {tokens[:3]}")
        if len(set(tokens)) != len(tokens):
            raise DataError(f"tokens are not unique: {sorted({t for t in tokens if tokens.count(t) > 1})}")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def save(self, path: str | os.PathLike) -> None:
        """Write tokens.txt (`token id` lines) to `path`."""
        with atomic_write(Path(path)) as f:
            for i, t in enumerate(self.tokens):
                f.write(f"{t} {i}\n")

    def save_dir(self, directory: str | os.PathLike) -> None:
        """Write tokens.txt and whatever else `load_tokenizer` needs to rebuild this tokenizer."""
        self.save(Path(directory) / TOKENS)

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_variants(self, text: str, limit: int) -> list[list[int]]:
        """Every unit sequence `text` may be written as, encode()'s first, at most `limit`: one for kinds whose
        words have one spelling (a lexicon's other pronunciations for phones)."""
        return [self.encode(text)]

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def spellings(self, word: str) -> list[list[str]]:
        """Unit sequences of `word` (none: the word cannot be spelled with these units)."""
        raise NotImplementedError

    def unknown(self, text: str) -> list[str]:
        """What of `text` these units cannot write (it would become `<unk>`): words here, characters for char."""
        return sorted({w for w in text.split() if not self.spellings(w)})

    def units_text(self, text: str) -> str:
        """`text` as the units decode() gives (words for word-level kinds), for comparing with a hypothesis."""
        return text if self.word_level else self.decode(self.encode(text))


class CharTokenizer(Tokenizer):
    """Maps text to ids and back; words are joined by the `<space>` unit."""

    kind = "char"
    space_between_words = True

    @classmethod
    def build(cls, texts: Iterable[str]) -> "CharTokenizer":
        chars = sorted({c for text in texts for c in text if not c.isspace()})
        return cls([BLANK, UNK, SPACE] + chars)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CharTokenizer":
        return cls(read_tokens(path))

    def encode(self, text: str) -> list[int]:
        ids = []
        for w, word in enumerate(text.split()):
            if w:
                ids.append(2)
            ids.extend(self.index.get(c, 1) for c in word)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        pieces = []
        for i in ids:
            t = self.tokens[i]
            pieces.append(" " if t == SPACE else "" if t == BLANK else t)
        return " ".join("".join(pieces).split())

    def spellings(self, word: str) -> list[list[str]]:
        return [list(word)] if all(c in self.index for c in word) else []

    def unknown(self, text: str) -> list[str]:
        return sorted({c for c in text if not c.isspace() and c not in self.index})


class WordTokenizer(Tokenizer):
    """Whole words as units (a closed vocabulary: yes/no, digits); `<space>` stays at id 2, unused.

    Beside tokens.txt it writes Kaldi's `words.txt` (`<eps> 0`, then the words), which marks the kind.
    """

    kind = "word"

    @classmethod
    def build(cls, texts: Iterable[str]) -> "WordTokenizer":
        return cls([BLANK, UNK, SPACE] + sorted({w for text in texts for w in text.split()}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "WordTokenizer":
        return cls(read_tokens(path))

    def save_dir(self, directory: str | os.PathLike) -> None:
        super().save_dir(directory)
        with atomic_write(Path(directory) / WORDS) as f:
            for i, w in enumerate(["<eps>"] + self.tokens[3:]):
                f.write(f"{w} {i}\n")

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, 1) for w in text.split()]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.tokens[i] for i in ids if i > 2)

    def spellings(self, word: str) -> list[list[str]]:
        return [[word]] if word in self.index else []


WORDS = "words.txt"


UNIT_FILES = {"char": None, "word": WORDS, "phone": "lexicon.txt", "bpe": "bpe.model"}  # kind -> its marker file


def unit_kind(directory: str | os.PathLike) -> str:
    """The unit kind that the files in `directory` suggest (bpe.model, lexicon.txt, words.txt, or none: char)."""
    d = Path(directory)
    for kind in ("bpe", "phone", "word"):
        if (d / UNIT_FILES[kind]).exists():
            return kind
    return "char"


def load_tokenizer(tokens: str | os.PathLike, kind: str | None = None) -> Tokenizer:
    """The tokenizer of a tokens.txt: of unit `kind` (a model's config.yaml `units:`; the file that kind needs
    beside tokens.txt must be there), or when None, the kind told by the files beside it (`unit_kind`)."""
    path = Path(tokens)
    if kind is None:
        kind = unit_kind(path.parent)
    if kind not in UNIT_FILES:
        raise DataError(f"{path}: unknown unit kind '{kind}' (known: {', '.join(UNIT_FILES)})")
    needed = UNIT_FILES[kind]
    if needed and not (path.parent / needed).is_file():
        raise DataError(f"{path.parent / needed}: missing; {kind} units need it beside {path.name}")
    if kind == "bpe":
        from asr.text.bpe import BPETokenizer

        return BPETokenizer.load_dir(path.parent, path)
    if kind == "phone":
        from asr.text.phone import PhoneTokenizer

        return PhoneTokenizer.load_dir(path.parent, path)
    if kind == "word":
        return WordTokenizer.load(path)
    return CharTokenizer.load(path)


def tokenizer_from_dir(directory: str | os.PathLike) -> Tokenizer:
    """The tokenizer saved in a model (or lang) dir."""
    return load_tokenizer(Path(directory) / TOKENS)
