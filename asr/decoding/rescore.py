"""N-best rescoring by the full CTC likelihood, and sequence-level combination of several models.

The lexicon decoder (asr.decoding.lm) ranks hypotheses by their single best CTC path. Here the N best word
sequences of its search are ranked again by

    mean over models m of  log p_m(units | x)  +  lm_weight * log p_LM(words)  +  word_score * #words
                           [+  spell_weight * the spelling LM's score (asr.decoding.spelling)]

where log p_m(units | x) is model m's CTC probability of the whole unit sequence, summed over every alignment
(the CTC forward algorithm: torch's ctc_loss) and over the words' pronunciations. With one model this is
rescoring with the exact likelihood instead of the best path. With several (an ensemble whose `combine` is
`sequence`, asr.model.ensemble), each model searches, their N-best lists are pooled, and every candidate is
scored by all of them: the geometric mean of the models' sequence probabilities (a mean, so that the LM weight
and word score mean what they mean for one model, whose search produced the lists). Unlike the frame-by-frame mean of their
posteriors, this does not need the models' CTC spikes on the same frames, which separately trained models do not
share (egs/an4/NOTES.md, "Sequence-level combination").

Layout: one utterance at a time; members' log-probs (M, T, V), id 0 `<blank>`, 2 `<space>`.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Sequence

import torch
import torch.nn.functional as F

from asr.decoding.lm import LexiconLMDecoder, read_vocabulary
from asr.decoding.ngram import arpa_lm
from asr.decoding.spelling import SpellingLM
from asr.text.tokenizer import SPACE, Tokenizer

NBEST = 20  # hypotheses each model's search passes on (AN4 dev: the reference is among 20 for all but 2 words)
MAX_SPELLINGS = 32  # pronunciation combinations of one hypothesis scored; the rest are left out


def unit_sequences(tokenizer: Tokenizer, words: Sequence[str], lexicon: dict[str, list[list[str]]]
                   ) -> list[list[int]]:
    """The unit id sequences of a word sequence (one per combination of its words' spellings, at most
    MAX_SPELLINGS), with `<space>` between words where the units have it (as the tokenizer's encode)."""
    space = [tokenizer.index[SPACE]] if tokenizer.space_between_words else []
    out = []
    for combo in itertools.islice(itertools.product(*(lexicon[w] for w in words)), MAX_SPELLINGS):
        ids: list[int] = []
        for i, spelling in enumerate(combo):
            ids += (space if i else []) + [tokenizer.index[u] for u in spelling]
        out.append(ids)
    return out


def ctc_log_likelihood(log_probs: torch.Tensor, targets: list[list[int]]) -> float:
    """ln of the summed CTC probability of the alternative unit sequences `targets` under (T, V) log-probs."""
    n = len(targets)
    lengths = torch.tensor([len(t) for t in targets])
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    x = log_probs.float()[:, None, :].expand(-1, n, -1)
    ll = -F.ctc_loss(x, flat, torch.full((n,), log_probs.shape[0]), lengths, reduction="none")
    return float(torch.logsumexp(ll, 0))


class NBestRescorer:
    """Lexicon + LM search of each model's log-probs for its N best word sequences, then the pooled candidates
    ranked by the models' mean CTC log-likelihood, the LM and the word score (see the module doc)."""

    def __init__(self, tokenizer: Tokenizer, words, lm=None, lm_weight: float = 1.0, word_score: float = 0.0,
                 beam_size: int = 50, nbest: int = NBEST, cache: dict | None = None, spell_lm=None,
                 spell_weight: float = 0.0):
        self.cache = cache  # (log-probs' digest, words) -> mean CTC log-likelihood, shared across LM weights
        self.search = LexiconLMDecoder(tokenizer, words, lm, lm_weight, word_score, beam_size, nbest=nbest)
        self.tokenizer, self.lexicon = tokenizer, self.search.lexicon
        self.lm = arpa_lm(lm) if lm else None
        self.spelling = SpellingLM(spell_lm) if spell_lm and spell_weight else None
        self.lm_weight, self.word_score, self.spell_weight = lm_weight, word_score, spell_weight

    @classmethod
    def from_config(cls, tokenizer: Tokenizer, config, cache: dict | None = None) -> "NBestRescorer":
        """The rescorer of a resolved asr.decoding.config.DecoderConfig (decoder lm); `cache` as the attribute."""
        return cls(tokenizer, read_vocabulary(config.lexicon, config.lm), config.lm, config.lm_weight,
                   config.word_score, config.beam_size, config.nbest, cache, config.spell_lm, config.spell_weight)

    def candidates(self, members: torch.Tensor) -> list[tuple[str, ...]]:
        """The pooled N-best word sequences of the members' (M, T, V) log-probs, in first-seen order."""
        return list(dict.fromkeys(h for lp in members for h in self.search.nbest(lp)))

    def acoustic_score(self, members: torch.Tensor, words: tuple[str, ...], digest: bytes | None = None) -> float:
        """The members' mean CTC log-likelihood of a word sequence (cached under `digest` when given)."""
        key = (digest, words)
        if digest is not None and self.cache is not None and key in self.cache:
            return self.cache[key]
        if words:
            targets = unit_sequences(self.tokenizer, words, self.lexicon)
            value = sum(ctc_log_likelihood(lp, targets) for lp in members) / len(members)
        else:  # nothing but blanks
            value = float(members[:, :, 0].sum()) / len(members)
        if digest is not None and self.cache is not None:
            self.cache[key] = value
        return value

    def score(self, members: torch.Tensor, words: tuple[str, ...], digest: bytes | None = None) -> float:
        """The combined score of one word sequence (the module doc's formula)."""
        total = self.word_score * len(words) + self.acoustic_score(members, words, digest)
        if self.lm is not None:
            total += self.lm_weight * self.lm.score(words)
        if self.spelling is not None:
            total += self.spell_weight * self.spelling.score(words)
        return total

    def decode_one(self, members: torch.Tensor) -> list[str]:
        """(M, T, V) log-probs of one utterance (M = 1 for one model) -> its words."""
        candidates = self.candidates(members)
        if not candidates:
            return []
        digest = None
        if self.cache is not None:
            digest = hashlib.blake2b(members.contiguous().numpy().tobytes(), digest_size=16).digest()
        return list(max(candidates, key=lambda words: self.score(members, words, digest)))
