"""BPE units (sentencepiece, Sennrich et al. 2016): `tokens.txt` + `bpe.model` in one directory.

Pieces carry sentencepiece's word-start mark `▁` (U+2581), so words need no `<space>` unit: decoding joins the
pieces and turns each `▁` into a space. Ids are ours (`<blank>` 0, `<unk>` 1, `<space>` 2, then the pieces in
sentencepiece's order); sentencepiece's own `<unk>` maps to ours.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable

from asr.errors import DataError
from asr.text.tokenizer import BLANK, SPACE, TOKENS, UNK, Tokenizer, read_tokens

MODEL = "bpe.model"
WORD_START = "\u2581"


class BPETokenizer(Tokenizer):
    kind = "bpe"

    def __init__(self, tokens: list[str], model_proto: bytes):
        super().__init__(tokens)
        import sentencepiece as spm

        self.model_proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def build(cls, texts: Iterable[str], vocab_size: int = 100) -> "BPETokenizer":
        """Train a BPE model on `texts`; `vocab_size` is an upper bound (small corpora give fewer pieces)."""
        import sentencepiece as spm

        texts = [t for t in texts if t.strip()]
        if not texts:
            raise DataError("no text to train BPE units on")
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=proto, model_type="bpe",
                                       vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
                                       unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1,
                                       minloglevel=2)
        sp = spm.SentencePieceProcessor(model_proto=proto.getvalue())
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_unknown(i)]
        return cls([BLANK, UNK, SPACE] + pieces, proto.getvalue())

    @classmethod
    def load_dir(cls, directory: str | os.PathLike, tokens: str | os.PathLike | None = None) -> "BPETokenizer":
        directory = Path(directory)
        return cls(read_tokens(tokens or directory / TOKENS), (directory / MODEL).read_bytes())

    def save_dir(self, directory: str | os.PathLike) -> None:
        from asr.fileio import atomic_write

        self.save(Path(directory) / TOKENS)
        with atomic_write(Path(directory) / MODEL, "wb") as f:
            f.write(self.model_proto)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(p, 1) for p in self.sp.encode(text, out_type=str)]

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.tokens[i] for i in ids if i > 2 or i == 1)
        return " ".join(text.replace(WORD_START, " ").split())

    def spellings(self, word: str) -> list[list[str]]:
        pieces = self.sp.encode(word, out_type=str)
        return [pieces] if all(p in self.index for p in pieces) else []
