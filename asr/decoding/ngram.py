"""Word n-gram language models: interpolated modified Kneser-Ney (Chen & Goodman 1998, as KenLM's `lmplz`),
estimated from text in Python and written as ARPA, so no compiled tool is needed for a recipe's LM stage.

Estimation, for each order n with adjusted counts a(.):
    a(g)       = c(g) for the highest order and for n-grams starting with <s>; else the number of distinct
                 words seen before g (Kneser-Ney continuation counts)
    D1, D2, D3+  from the counts of counts t1..t4 of a(.) at that order (Chen & Goodman's estimates; where the
                 data are too few for them, 0.5 / 1.0 / 1.5, clipped to what the counts allow)
    p(w | h)   = (a(hw) - D(a(hw))) / sum_x a(hx) + gamma(h) p(w | h'),   h' = h without its first word
    gamma(h)   = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / sum_x a(hx)
Unigrams are interpolated with the uniform distribution over the vocabulary (words, </s>, <unk>), so
`<unk>` and words given only through `vocabulary` (e.g. a lexicon's) get probability too. In ARPA form an
n-gram's probability is the interpolated one and its backoff weight is gamma, which keeps every
conditional distribution summing to one (tested).
"""

from __future__ import annotations

import functools
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from asr.errors import DataError
from asr.fileio import atomic_write

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK = (0.5, 1.0, 1.5)
LN10 = math.log(10)


def discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts (D1, D2, D3+) from one order's adjusted counts."""
    t = [0] * 5
    for c in counts:
        if c <= 4:
            t[c] += 1
    d = list(FALLBACK)
    if t[1] and t[2]:
        y = t[1] / (t[1] + 2 * t[2])
        est = [1 - 2 * y * t[2] / t[1], 2 - 3 * y * t[3] / t[2], 3 - 4 * y * t[4] / t[3] if t[3] else None]
        d = [e if e is not None and 0 < e < k else f for k, (e, f) in enumerate(zip(est, FALLBACK), 1)]
    return d[0], max(d[0], d[1]), max(d[1], d[2])


class NGramLM:
    """An interpolated modified Kneser-Ney model; `prob` and `to_arpa` give the same distributions."""

    def __init__(self, sentences: Iterable[str], order: int = 3, vocabulary: Iterable[str] = ()):
        if order < 1:
            raise DataError(f"n-gram order must be at least 1, got {order}")
        self.order = order
        raw: list[dict[tuple, int]] = [defaultdict(int) for _ in range(order + 1)]
        n_sent = 0
        for line in sentences:
            words = line.split()
            if not words:
                continue
            n_sent += 1
            toks = [BOS] + words + [EOS]
            for n in range(1, order + 1):
                for i in range(len(toks) - n + 1):
                    raw[n][tuple(toks[i:i + n])] += 1
        if not n_sent:
            raise DataError("no sentences to estimate an n-gram model from")
        self.vocab = sorted(({w for (w,) in raw[1]} | set(vocabulary) | {EOS, UNK}) - {BOS})
        # adjusted counts
        adj: list[dict[tuple, int]] = [dict() for _ in range(order + 1)]
        adj[order] = dict(raw[order])
        for n in range(order - 1, 0, -1):
            left = defaultdict(int)
            for g in raw[n + 1]:
                left[g[1:]] += 1
            adj[n] = {g: (c if g[0] == BOS else left[g]) for g, c in raw[n].items()}
        adj[1].pop((BOS,), None)  # <s> is never predicted
        self.prob_: list[dict[tuple, float]] = [dict() for _ in range(order + 1)]
        self.gamma: list[dict[tuple, float]] = [dict() for _ in range(order + 1)]
        uniform = 1.0 / len(self.vocab)
        for n in range(1, order + 1):
            d = discounts(adj[n].values())
            total, nk = defaultdict(int), defaultdict(lambda: [0, 0, 0])
            for g, c in adj[n].items():
                total[g[:-1]] += c
                nk[g[:-1]][min(c, 3) - 1] += 1
            gamma = {h: sum(dk * k for dk, k in zip(d, nk[h])) / total[h] for h in total}
            self.gamma[n - 1] = gamma  # keyed by the context, an (n-1)-gram
            probs = self.prob_[n]
            if n == 1:
                for w in self.vocab:
                    c = adj[1].get((w,), 0)
                    probs[(w,)] = (max(c - d[min(c, 3) - 1], 0) if c else 0) / total[()] + gamma[()] * uniform
            else:
                for g, c in adj[n].items():
                    lower = self.prob(g[1:])
                    probs[g] = (c - d[min(c, 3) - 1]) / total[g[:-1]] + gamma[g[:-1]] * lower

    def prob(self, ngram: tuple) -> float:
        """p(w | h) for ngram = (*h, w), backing off as the ARPA file does."""
        ngram = tuple(w if (w,) in self.prob_[1] or w == BOS else UNK for w in ngram)[-self.order:]
        weight = 1.0
        while ngram:
            p = self.prob_[len(ngram)].get(ngram)
            if p is not None:
                return weight * p
            weight *= self.gamma[len(ngram) - 1].get(ngram[:-1], 1.0)
            ngram = ngram[1:]
        raise AssertionError("unigram distribution has every word")  # pragma: no cover

    def to_arpa(self, path: str | os.PathLike) -> Path:
        """Write the model in ARPA format (log10 probabilities and backoff weights)."""
        path = Path(path)
        entries = [dict(self.prob_[n]) for n in range(self.order + 1)]
        with atomic_write(path) as f:
            f.write("\\data\\\n")
            counts = [len(entries[1]) + 1] + [len(entries[n]) for n in range(2, self.order + 1)]
            for n, c in enumerate(counts, 1):
                f.write(f"ngram {n}={c}\n")
            for n in range(1, self.order + 1):
                f.write(f"\n\\{n}-grams:\n")
                rows = sorted(entries[n].items())
                if n == 1:
                    rows = sorted(rows + [((BOS,), -1.0)])
                for g, p in rows:
                    logp = -99.0 if p < 0 else math.log10(p)
                    line = f"{logp:.6f}\t{' '.join(g)}"
                    if n < self.order and g in self.gamma[n]:
                        line += f"\t{math.log10(self.gamma[n][g]):.6f}" if self.gamma[n][g] > 0 else "\t-99"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")
        return path


def build_arpa(text: str | os.PathLike, out: str | os.PathLike, order: int = 3,
               vocabulary: Iterable[str] = ()) -> Path:
    """Estimate an n-gram model from a text file (one sentence a line) and write it as ARPA."""
    try:
        lines = Path(text).read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataError(f"{text}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{text}: a folder, expected a text file (one sentence a line)") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{text}: not valid UTF-8 (byte {e.start})") from None
    if not any(line.split() for line in lines):
        raise DataError(f"{text}: no sentences to estimate an n-gram model from")
    return NGramLM(lines, order, vocabulary).to_arpa(out)


class ArpaLM:
    """An ARPA file's model for scoring whole sentences in Python (what KenLM gives the lexicon decoder): natural
    log probabilities with backoff, `<s>` and `</s>` around each sentence, words it lacks scored as `<unk>`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.logp: dict[tuple, float] = {}
        self.backoff: dict[tuple, float] = {}
        self.order, n = 0, 0
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise DataError(f"{self.path}: no such language model file") from None
        for i, line in enumerate(lines, 1):
            line = line.strip()
            if line.startswith("\\") and line.endswith("-grams:"):
                n = int(line[1:].split("-")[0])
                self.order = max(self.order, n)
            elif line.startswith("\\") or not line or not n:
                continue
            else:
                f = line.split()
                if len(f) not in (n + 1, n + 2):
                    raise DataError(f"{self.path}:{i}: expected a log-probability, {n} words and a backoff")
                g = tuple(f[1:n + 1])
                self.logp[g] = float(f[0]) * LN10
                if len(f) == n + 2:
                    self.backoff[g] = float(f[n + 1]) * LN10
        if not self.order:
            raise DataError(f"{self.path}: not an ARPA file (no \\1-grams: section)")

    def log_prob(self, history: tuple, word: str) -> float:
        """ln p(word | history), backing off to shorter histories."""
        if (word,) not in self.logp:
            word = UNK
        history = tuple(history)[-(self.order - 1):] if self.order > 1 else ()
        penalty = 0.0
        while (*history, word) not in self.logp:
            if not history:
                return penalty + self.logp.get((UNK,), -100.0 * LN10)
            penalty += self.backoff.get(history, 0.0)
            history = history[1:]
        return penalty + self.logp[(*history, word)]

    def score(self, words: Iterable[str]) -> float:
        """ln p(<s> words </s>)."""
        history, total = (BOS,), 0.0
        for w in [*words, EOS]:
            total += self.log_prob(history, w)
            history = (*history, w)
        return total


@functools.lru_cache(maxsize=4)
def _arpa(path: str, mtime: float) -> ArpaLM:
    return ArpaLM(path)


def arpa_lm(path: str | os.PathLike) -> ArpaLM:
    """The ARPA model at `path`, read once per version of the file (a tuning grid builds a rescorer per point)."""
    try:
        mtime = os.path.getmtime(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such language model file") from None
    return _arpa(str(path), mtime)
