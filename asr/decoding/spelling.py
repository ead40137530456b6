"""A spelling LM: a letter n-gram that ranks hypotheses spelled letter by letter ("L I N D A").

A word LM cannot tell such hypotheses apart: after a letter, any letter may follow, and AN4's spelled names and
streets (its census answers) are where most of its errors were (egs/an4/NOTES.md). A letter n-gram estimated on
words spelled out (a word list, census names, the training text's letter runs: data_prep/spelling.py) can: it
knows HAMPSHIRE from H A M P S H I R D. In the N-best rescoring (asr.decoding.rescore), a hypothesis of two or
more words, each a single letter the spelling LM knows, gains

    spell_weight * (ln p_spell(<s> l1 ... ln </s>) + (n + 1) ln V)

the log-likelihood ratio of its letters under the spelling LM against uniformly random letters (V: the LM's
letters and </s>). Letter sequences that look like a word gain, those that do not lose; other hypotheses are
left as they are, so the word LM keeps ranking words. On AN4 dev the ratio to uniform letters and a ratio to
the letters' unigram frequencies (a second file to carry) were within a word of each other (50 and 49 errors over
three systems); the plain ln p_spell (no ratio), which marks down every spelled hypothesis against words, and
letter runs inside longer hypotheses were worse (egs/an4/NOTES.md). Offline decoding only: the streaming
decoder has no N-best rescoring.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

from asr.decoding.ngram import arpa_lm
from asr.errors import DataError


class SpellingLM:
    """`score(words)`: the bonus above for a spelled hypothesis, 0 for any other."""

    def __init__(self, path: str | os.PathLike):
        self.lm = arpa_lm(path)
        self.letters = frozenset(g[0] for g in self.lm.logp if len(g) == 1 and len(g[0]) == 1)
        if not self.letters:
            raise DataError(f"{path}: not a spelling LM (no single-letter unigrams; data_prep/spelling.py "
                            f"writes its text)")
        self.log_uniform = -math.log(len(self.letters) + 1)  # letters and </s>

    def spelled(self, words: Sequence[str]) -> bool:
        """Whether `words` spell something: two or more, each a letter of the LM."""
        return len(words) >= 2 and all(w in self.letters for w in words)

    def score(self, words: Sequence[str]) -> float:
        if not self.spelled(words):
            return 0.0
        return self.lm.score(words) - (len(words) + 1) * self.log_uniform
