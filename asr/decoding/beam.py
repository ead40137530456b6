"""CTC prefix beam search (Graves 2012; Hannun et al. 2014), without a language model.

Greedy decoding takes the best *path*; prefix search keeps the `beam_size` most probable *label prefixes*,
each scored by the sum over all its alignments: p_b (ending in blank) and p_nb (ending in its last label).
Per frame, with log-probs y:
    stay:      p_b'(l)  = (p_b(l) + p_nb(l)) y_blank        p_nb'(l) = p_nb(l) y_last(l)
    extend c:  p_nb'(l+c) = (p_b(l) + p_nb(l)) y_c, or p_b(l) y_c when c repeats l's last label
All extensions of all prefixes are scored at once as a (beam, V) matrix; the only merge, "extend l by c"
into a prefix already in the beam, is found through a dict of the beam's prefixes. With beam_size 1 this is
greedy decoding when every frame's best token has probability >= 0.9 (CTC's usual peaky outputs); in general
it keeps the most probable prefix, which sums over alignments, where greedy keeps the best single path.

Layout: log_probs (T, V) of one utterance (a batch is decoded utterance by utterance); blank is id 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch-free at run time: the ONNX runtime (asr.runtime) decodes with it
    import torch

NEG_INF = -np.inf


def prefix_beam_search(log_probs: torch.Tensor | np.ndarray, beam_size: int = 10, blank: int = 0,
                       token_beam: int | None = None, nbest: int = 1) -> list[tuple[list[int], float]]:
    """(T, V) log-probs -> up to `nbest` (token ids, log-probability) pairs, best first.

    token_beam: extend only with the `token_beam` best tokens of each frame (default: all)."""
    search = PrefixBeamSearch(beam_size, blank, token_beam)
    search.step(log_probs)
    return search.best(nbest)


class PrefixBeamSearch:
    """The search frame by frame: `step` on the log-probs of each chunk as they come; `best()` at any time (a
    partial hypothesis) gives what `prefix_beam_search` of all the frames so far gives."""

    def __init__(self, beam_size: int = 10, blank: int = 0, token_beam: int | None = None):
        self.beam_size, self.blank, self.token_beam = beam_size, blank, token_beam
        self.prefixes: list[tuple[int, ...]] = [()]
        self.p_b, self.p_nb = np.array([0.0]), np.array([NEG_INF])

    def step(self, log_probs: torch.Tensor | np.ndarray) -> None:
        """Go on over (T, V) more frames."""
        lp = log_probs.detach().cpu().numpy() if hasattr(log_probs, "detach") else np.asarray(log_probs)
        lp = lp.astype(np.float64)
        t_len, vocab = lp.shape
        beam_size, blank, token_beam = self.beam_size, self.blank, self.token_beam
        prefixes, p_b, p_nb = self.prefixes, self.p_b, self.p_nb
        labels = np.array([c for c in range(vocab) if c != blank])
        for t in range(t_len):
            y = lp[t]
            total = np.logaddexp(p_b, p_nb)  # (B,)
            last = np.array([p[-1] if p else -1 for p in prefixes])
            # stay: the same prefix, through blank or a repeat of its last label
            stay_b = total + y[blank]
            stay_nb = np.where(last >= 0, p_nb + y[np.maximum(last, 0)], NEG_INF)
            # extend every prefix by every label: (B, L)
            cand = labels
            if token_beam is not None and token_beam < len(labels):
                cand = labels[np.argsort(-y[labels])[:token_beam]]
            ext = total[:, None] + y[cand][None, :]
            repeat = cand[None, :] == last[:, None]
            ext = np.where(repeat, p_b[:, None] + y[cand][None, :], ext)
            # merge "extend l by c" into an existing prefix l + (c,)
            where = {p: i for i, p in enumerate(prefixes)}
            col = {c: j for j, c in enumerate(cand.tolist())}
            for i, p in enumerate(prefixes):
                if p and p[:-1] in where and p[-1] in col:
                    k, j = where[p[:-1]], col[p[-1]]
                    stay_nb[i] = np.logaddexp(stay_nb[i], ext[k, j])
                    ext[k, j] = NEG_INF
            # the best `beam_size` of the stayed and the extended prefixes
            stay_tot = np.logaddexp(stay_b, stay_nb)
            scores = np.concatenate([stay_tot, ext.ravel()])
            k = min(beam_size, int(np.isfinite(scores).sum()) or 1)
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            new_prefixes, nb, nnb = [], [], []
            n_stay = len(prefixes)
            for idx in top.tolist():
                if idx < n_stay:
                    new_prefixes.append(prefixes[idx])
                    nb.append(stay_b[idx])
                    nnb.append(stay_nb[idx])
                else:
                    i, j = divmod(idx - n_stay, len(cand))
                    new_prefixes.append(prefixes[i] + (int(cand[j]),))
                    nb.append(NEG_INF)
                    nnb.append(ext[i, j])
            prefixes, p_b, p_nb = new_prefixes, np.array(nb), np.array(nnb)
        self.prefixes, self.p_b, self.p_nb = prefixes, p_b, p_nb

    def best(self, nbest: int = 1) -> list[tuple[list[int], float]]:
        """Up to `nbest` (token ids, log-probability) pairs over the frames so far, best first."""
        total = np.logaddexp(self.p_b, self.p_nb)
        order = np.argsort(-total, kind="stable")[:nbest]
        return [(list(self.prefixes[i]), float(total[i])) for i in order]


def beam_decode(log_probs: torch.Tensor, lengths: torch.Tensor, beam_size: int = 10, blank: int = 0,
                token_beam: int | None = None) -> list[list[int]]:
    """(N, T, V) log-probs with lengths (N,) -> the best token id sequence of each utterance."""
    return [prefix_beam_search(log_probs[i, :int(n)], beam_size, blank, token_beam)[0][0]
            for i, n in enumerate(lengths.tolist())]
