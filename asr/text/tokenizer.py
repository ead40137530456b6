"""Character tokens for CTC, stored as Kaldi/ESPnet `tokens.txt` (`token id` per line).

Id 0 is `<blank>` (the CTC blank), 1 is `<unk>`, 2 is `<space>` (the word boundary); the characters of
the training text follow in sorted order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from asr.data.kaldi_files import read_entries
from asr.errors import DataError
from asr.fileio import atomic_write

BLANK, UNK, SPACE = "<blank>", "<unk>", "<space>"


class CharTokenizer:
    """Maps text to ids and back; words are joined by the `<space>` unit."""

    def __init__(self, tokens: list[str]):
        if tokens[:3] != [BLANK, UNK, SPACE]:
            raise DataError(f"tokens must start with {BLANK} {UNK} {SPACE}, got {tokens[:3]}")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> "CharTokenizer":
        chars = sorted({c for text in texts for c in text if not c.isspace()})
        return cls([BLANK, UNK, SPACE] + chars)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CharTokenizer":
        entries = read_entries(path)
        tokens = []
        for e in entries:
            if e.value != str(len(tokens)):
                raise DataError(f"{path}:{e.line}: expected id {len(tokens)} for '{e.key}', got '{e.value}'")
            tokens.append(e.key)
        return cls(tokens)

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(Path(path)) as f:
            for i, t in enumerate(self.tokens):
                f.write(f"{t} {i}\n")

    def __len__(self) -> int:
        return len(self.tokens)

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
