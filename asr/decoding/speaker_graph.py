"""Isolated words from one speaker, decided together: each recording's word probabilities spread over a graph of
the speaker's recordings that sound alike (graph-based semi-supervised learning, Zhou et al. 2004's label
spreading; in speech recognition Liu & Kirchhoff 2013-2016).

A model trained on other voices can hear a new speaker's word as another word every time he says it (FSDD's
held-out speaker: his SIX without its S as EIGHT or THREE). The speaker's own recordings of one word, though,
resemble each other far more than they resemble his other words: by dynamic time warping (DTW) over cepstra of
his normalised log-mel features, the three recordings nearest each of his 500 are, by a vote of their true words,
its own word for 498 of them (egs/digits/NOTES.md). So every recording starts from the model's probability of
each word of the vocabulary (its full CTC likelihood, the sum over alignments and pronunciations, normalised over
the vocabulary: one word per recording), and the probabilities are spread along the graph of each recording's `k`
nearest recordings (closer than `max_dist`): where most of a cluster of alike recordings is heard as one word, the
rest follow.

    F = (1 - alpha) (I - alpha S)^-1 Y,   S = D^-1/2 W D^-1/2,   W_ij = exp(-(d_ij / sigma)^2) for neighbours

with Y the model's word probabilities (n x words), d the DTW distance, sigma the median neighbour distance;
a recording with no neighbour keeps its own probabilities. The recordings of one speaker (a data dir's
utt2spk, a folder transcribed as one speaker) are one graph; the cost grows with the square of their number.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from asr.decoding.rescore import ctc_log_likelihood, unit_sequences
from asr.errors import ConfigError
from asr.features.cmvn import accumulate_stats, speaker_normaliser
from asr.features.extract import SPEAKER_STD_FLOOR

NUM_CEPS = 19  # cepstra 1..NUM_CEPS of the log-mel frames (c0, the level, left out)
POOL = 2  # frames averaged into one DTW step (20 ms at a 10 ms shift)


class IsolatedWords:
    """One word of a vocabulary per recording: the word whose spellings in the model's units (asr.decoding.lm's
    lexicon_for: every pronunciation) have the highest summed CTC likelihood. `.tokenizer` and `.lexicon` as a
    lexicon decoder's (asr.transcribe.decoders.words_to_spans aligns its word)."""

    def __init__(self, tokenizer, words: Sequence[str]):
        from asr.decoding.lm import lexicon_for

        self.tokenizer = tokenizer
        self.lexicon, _ = lexicon_for(tokenizer, words)
        self.words = sorted(self.lexicon)
        self._targets = [unit_sequences(tokenizer, [w], self.lexicon) for w in self.words]

    @classmethod
    def from_config(cls, tokenizer, config) -> "IsolatedWords":
        """The vocabulary of a resolved asr.decoding.config.DecoderConfig (its lexicon's words)."""
        from asr.decoding.lm import read_vocabulary

        return cls(tokenizer, read_vocabulary(config.lexicon, config.lm))

    def log_probs(self, log_probs: torch.Tensor) -> np.ndarray:
        """ln p(word | recording) for each of `.words` under a recording's (T, V) log-probs, normalised over
        the words; given an ensemble's members' (M, T, V), the mean over them of each word's (as
        asr.decoding.rescore combines by sequence)."""
        members = log_probs[None] if log_probs.dim() == 2 else log_probs
        scores = np.array([sum(ctc_log_likelihood(lp, targets) for lp in members) / len(members)
                           for targets in self._targets])
        return scores - np.logaddexp.reduce(scores)

    def best(self, log_probs: torch.Tensor) -> str:
        """The word of one recording alone: (T, V) log-probs or members' (M, T, V)."""
        return self.words[int(np.argmax(self.log_probs(log_probs)))]

    def decide(self, word_log_probs: Sequence[np.ndarray], raw_feats: Sequence[torch.Tensor | np.ndarray],
               config, bins: int | None = None) -> list[str]:
        """The words of one speaker's recordings, decided together: their word log-probs (from `log_probs`) and
        raw features (T, D), spread over the graph with a resolved DecoderConfig's speaker_graph (k),
        graph_alpha and graph_max_dist, the DTW over the first `bins` bins (bins_below graph_band_hz)."""
        if len(word_log_probs) < 2:
            return [self.words[int(np.argmax(lp))] for lp in word_log_probs]
        dist = dtw_distances(dtw_features(raw_feats, bins))
        spread_probs = spread(np.stack(word_log_probs), dist, config.speaker_graph, config.graph_alpha,
                              config.graph_max_dist)
        return [self.words[int(i)] for i in spread_probs.argmax(1)]


def bins_below(features, hz: float) -> int:
    """How many of a fbank config's mel bins (asr.features.kaldi.FeatureConfig) have their centre below `hz`.
    ConfigError for features that are not log-mel bins."""
    from asr.features.kaldi import mel_centres

    if features.kind != "fbank":
        raise ConfigError(f"speaker_graph compares log-mel (fbank) features, not {features.kind}")
    return max(1, int((mel_centres(features) < hz).sum()))


def dtw_features(group: Sequence[torch.Tensor | np.ndarray], bins: int | None = None) -> list[np.ndarray]:
    """The DTW features of one speaker's recordings, given their raw log-mel features (T, D): the first `bins`
    bins (None: all), normalised by the mean and variance pooled over the group (as Kaldi's per-speaker CMVN),
    cepstra 1..NUM_CEPS by a DCT over the bins, POOL frames averaged."""
    from torchaudio.functional import create_dct

    feats = [np.asarray(f, dtype=np.float64)[:, :bins] for f in group]
    stats = None
    for f in feats:
        stats = accumulate_stats(torch.from_numpy(f), stats)
    mean, std = speaker_normaliser(stats, True, SPEAKER_STD_FLOOR)
    bins = feats[0].shape[1]
    dct = create_dct(min(NUM_CEPS + 1, bins), bins, "ortho").double().numpy()[:, 1:]  # (bins, ceps), c0 left out
    out = []
    for f in feats:
        ceps = ((f - mean) / std) @ dct
        n = max(1, len(ceps) // POOL)
        out.append(ceps[:n * POOL].reshape(n, POOL, -1).mean(1) if len(ceps) >= POOL else ceps)
    return out


def dtw_distances(seqs: Sequence[np.ndarray]) -> np.ndarray:
    """(n, n) DTW distances between sequences of vectors: the least sum of Euclidean frame distances over a
    monotonic alignment (steps right, down, diagonal), divided by the sum of the two lengths."""
    n = len(seqs)
    x = [torch.as_tensor(s, dtype=torch.float32) for s in seqs]
    lengths = torch.tensor([len(s) for s in x])
    padded = torch.nn.utils.rnn.pad_sequence(x, batch_first=True)  # (n, Lmax, C)
    lmax, rows, out = padded.shape[1], torch.arange(n), np.zeros((n, n))
    for i, a in enumerate(x):
        li = len(a)
        d = torch.cdist(a[None].expand(n, -1, -1), padded)  # (n, li, Lmax)
        acc = torch.full((n, li + 1, lmax + 1), float("inf"))
        acc[:, 0, 0] = 0
        for s in range(2, li + lmax + 1):  # anti-diagonals: cells (p, q), p + q = s, need only s - 1 and s - 2
            p = torch.arange(max(1, s - lmax), min(li, s - 1) + 1)
            q = s - p
            best = torch.minimum(torch.minimum(acc[:, p - 1, q], acc[:, p, q - 1]), acc[:, p - 1, q - 1])
            acc[:, p, q] = d[:, p - 1, q - 1] + best
        out[i] = (acc[rows, li, lengths] / (li + lengths)).numpy()
    return (out + out.T) / 2


def spread(log_prior: np.ndarray, dist: np.ndarray, k: int, alpha: float, max_dist: float) -> np.ndarray:
    """Label spreading (the module doc): (n, W) log-probabilities and (n, n) distances -> (n, W) spread
    probabilities, each row summing to 1."""
    n = len(log_prior)
    prior = np.exp(log_prior - log_prior.max(1, keepdims=True))
    prior /= prior.sum(1, keepdims=True)
    if n < 2 or k < 1:
        return prior
    d = dist.astype(np.float64).copy()
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, 1)[:, :k]
    rows = np.repeat(np.arange(n), nearest.shape[1])
    cols = nearest.ravel()
    keep = d[rows, cols] < max_dist
    rows, cols = rows[keep], cols[keep]
    if not len(rows):
        return prior
    sigma = float(np.median(d[rows, cols])) or 1.0
    w = np.zeros((n, n))
    w[rows, cols] = np.exp(-(d[rows, cols] / sigma) ** 2)
    w = np.maximum(w, w.T)
    degree = w.sum(1)
    scale = np.where(degree > 0, 1 / np.sqrt(np.where(degree > 0, degree, 1)), 0)
    s = w * scale[:, None] * scale[None]
    f = (1 - alpha) * np.linalg.solve(np.eye(n) - alpha * s, prior)  # a row without neighbours: its prior
    return f / f.sum(1, keepdims=True)
