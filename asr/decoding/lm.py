"""Lexicon-constrained CTC beam search with a word n-gram LM: torchaudio's `ctc_decoder` (flashlight-text's
LexiconDecoder, KenLM for the ARPA model).

The decoder only emits words of its vocabulary, each spelled in the model's units by the tokenizer
(`spellings`: characters, BPE pieces or phones). When the units put `<space>` between words (char, phone), a
spelling ends with it, as wav2letter's lexicons end with `|`: flashlight's decoder leaves a word's trie node when
the word is emitted, so a last unit the network repeats over several frames (CTC's `E E`) could otherwise only be
explained as blank or silence. One frame of certain `<space>` is appended to every utterance for its last word.
`<space>` is also the decoder's silence, free between words.
A hypothesis scores   log p_CTC + lm_weight * log p_LM + word_score * #words   (the LM in natural log);
lm_weight and word_score are tuned on dev (asr.decoding.tune), as Kaldi's scoring tunes LMWT and the word
insertion penalty. Without an LM (`lm=None`) the search is still restricted to the vocabulary.

Layout: (N, T, V) float log-probs with lengths (N,); id 0 `<blank>`, 2 `<space>`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import torch

from asr.errors import ConfigError
from asr.fileio import quiet_stderr
from asr.text.tokenizer import BLANK, SPACE, UNK, Tokenizer

BEAM_THRESHOLD = 25.0  # flashlight: hypotheses further than this below the best are pruned


def read_words(path: str | os.PathLike) -> list[str]:
    """The decoding vocabulary from a lexicon (first field per line) or an ARPA file (its unigrams)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    if lines and lines[0].strip() == "\\data\\":
        words, inside = [], False
        for line in lines:
            if line.startswith("\\"):
                inside = line.strip() == "\\1-grams:"
            elif inside and line.strip():
                fields = line.split()
                if len(fields) >= 2:
                    words.append(fields[1])
        return [w for w in words if w not in ("<s>", "</s>", "<unk>")]
    return [line.split()[0] for line in lines if line.strip()]


def read_vocabulary(*paths: str | os.PathLike | None) -> list[str]:
    """The sorted words of lexicons and ARPA files (None: skipped)."""
    return sorted({w for path in paths if path for w in read_words(path)})


def lexicon_for(tokenizer: Tokenizer, words: Iterable[str]) -> tuple[dict[str, list[list[str]]], list[str]]:
    """word -> spellings in the tokenizer's units; and the words that cannot be spelled (left out)."""
    lexicon, skipped = {}, []
    for w in sorted(set(words)):
        spellings = [s for s in tokenizer.spellings(w) if s and all(t not in (BLANK, SPACE, UNK) for t in s)]
        if spellings:
            lexicon[w] = spellings
        else:
            skipped.append(w)
    if not lexicon:
        raise ConfigError("no word of the vocabulary can be spelled with the model's units")
    return lexicon, skipped



class LexiconLMDecoder:
    """Decode CTC log-probs into words of a vocabulary, scored by an optional ARPA LM."""

    def __init__(self, tokenizer: Tokenizer, words: Iterable[str], lm: str | os.PathLike | None = None,
                 lm_weight: float = 1.0, word_score: float = 0.0, beam_size: int = 50, nbest: int = 1):
        try:
            from torchaudio.models.decoder import ctc_decoder
        except (ImportError, RuntimeError) as e:
            raise ConfigError(f"LM decoding needs the flashlight-text package ({e})") from None
        self.tokenizer = tokenizer
        self.lexicon, self.skipped = lexicon_for(tokenizer, words)
        self.boundary = tokenizer.space_between_words
        end = [SPACE] if self.boundary else []
        if lm is not None and not Path(lm).is_file():
            raise ConfigError(f"{lm}: no such language model file")
        with tempfile.TemporaryDirectory() as tmp, quiet_stderr():  # KenLM prints a progress bar
            lex = Path(tmp) / "lexicon.txt"
            lex.write_text("".join(f"{w} {' '.join(s + end)}\n" for w, sp in self.lexicon.items() for s in sp))
            self.decoder = ctc_decoder(
                lexicon=str(lex), tokens=list(tokenizer.tokens), lm=str(lm) if lm else None, nbest=nbest,
                beam_size=beam_size, beam_threshold=BEAM_THRESHOLD, lm_weight=lm_weight, word_score=word_score,
                sil_score=0.0, unk_score=float("-inf"), log_add=False, blank_token=BLANK, sil_token=SPACE,
                unk_word=UNK)

    @classmethod
    def from_config(cls, tokenizer: Tokenizer, config) -> "LexiconLMDecoder":
        """The decoder of a resolved asr.decoding.config.DecoderConfig: its vocabulary, LM, weights and beam."""
        return cls(tokenizer, read_vocabulary(config.lexicon, config.lm), config.lm, config.lm_weight,
                   config.word_score, config.beam_size)

    def _search(self, log_probs: torch.Tensor, lengths: torch.Tensor):
        emissions = log_probs.detach().to("cpu", torch.float32)
        lengths = lengths.detach().to("cpu", torch.int32)
        if self.boundary:  # one frame of certain <space> after each utterance's last frame
            n, t, v = emissions.shape
            end = torch.full((v,), -1e4)
            end[self.tokenizer.index[SPACE]] = 0.0
            emissions = torch.cat([emissions, end.expand(n, 1, v)], dim=1)
            emissions[torch.arange(n), lengths.long()] = end
            lengths = lengths + 1
        return self.decoder(emissions.contiguous(), lengths)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[str]]:
        """(N, T, V) log-probs, lengths (N,) -> the words of each utterance."""
        return [list(r[0].words) if r else [] for r in self._search(log_probs, lengths)]

    def nbest(self, log_probs: torch.Tensor) -> list[tuple[str, ...]]:
        """(T, V) log-probs of one utterance -> the word sequences of its `nbest` best hypotheses, best first,
        each once (the search may reach one word sequence through other pronunciations)."""
        hyps = self._search(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        return list(dict.fromkeys(tuple(h.words) for h in hyps))

    # ---- online: torchaudio's decode_begin / decode_step / decode_end -----------------------------------

    def begin(self) -> None:
        """Start decoding a stream (or its next segment)."""
        self.decoder.decode_begin()

    def step(self, log_probs: torch.Tensor) -> None:
        """Go on over (T, V) more frames of log-probs."""
        if log_probs.shape[0]:
            self.decoder.decode_step(log_probs.detach().to("cpu", torch.float32).contiguous())

    def partial(self) -> list[str]:
        """The words of the best hypothesis so far (may change as more frames come)."""
        hyps = self.decoder.get_final_hypothesis()
        return list(hyps[0].words) if hyps else []

    def end(self) -> list[str]:
        """The words of the stream (segment), as `decode` of all its frames gives them."""
        if self.boundary:  # as _search: one frame of certain <space> after the last
            end = torch.full((1, len(self.tokenizer.tokens)), -1e4)
            end[0, self.tokenizer.index[SPACE]] = 0.0
            self.decoder.decode_step(end)
        self.decoder.decode_end()
        return self.partial()

    def decode_ids(self, log_probs: torch.Tensor) -> list[int]:
        """(T, V) log-probs of one utterance -> the token ids of its best hypothesis (no blanks; a word's double
        letter stays double)."""
        hyp = self._search(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        if not hyp:
            return []
        out = [int(i) for i in hyp[0].tokens]  # torchaudio has merged the path's runs and dropped its blanks
        while out and out[0] == 2:
            out.pop(0)
        while out and out[-1] == 2:
            out.pop()
        return out
