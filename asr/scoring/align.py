"""Word (or character) alignment of a reference and a hypothesis.

Two alignments, because the field's two reference tools disagree on how to split errors:

* `count_errors` / `align`: plain Levenshtein (every edit costs 1) with Kaldi's `compute-wer` tie-breaking, by
  kaldialign (Kaldi's own C++ edit-distance code); the total equals jiwer's.
* `align_sclite`: sclite's weighted alignment (substitution 4, insertion and deletion 3, match 0) with sclite's
  tie-breaking, so the Corr/Sub/Del/Ins split equals `sclite -i rm` to the count. The two can differ in the split
  (and, rarely, in the total: sclite minimises its weighted cost, not the number of edits). kaldialign's
  `sclite_mode` uses these costs but Kaldi's tie rules, which split some utterances otherwise than sclite
  ("a c b b c b c a a" against "a c b a a a c b b": sclite 5 S, kaldialign 2 S 2 D 2 I), hence numpy here.

An alignment is a list of `Op(kind, ref, hyp)` with kind one of "C" (correct), "S", "D", "I"; `ref` is None for
an insertion and `hyp` is None for a deletion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

import kaldialign
import numpy as np

CORRECT, SUB, DEL, INS = "C", "S", "D", "I"
_GAP = -1  # kaldialign's gap symbol: token ids are 0, 1, ...


@dataclass
class ErrorCounts:
    """Error counts of one or more utterances; `rate` is errors / ref_len (a fraction, not a percentage)."""

    ref_len: int = 0
    sub: int = 0
    dels: int = 0
    ins: int = 0

    @property
    def errors(self) -> int:
        return self.sub + self.dels + self.ins

    @property
    def correct(self) -> int:
        return self.ref_len - self.sub - self.dels

    @property
    def rate(self) -> float:
        """errors / ref_len; with an empty reference, 0.0 if there are no errors, else inf (as Kaldi)."""
        if self.ref_len == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.ref_len

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.ref_len + other.ref_len, self.sub + other.sub, self.dels + other.dels,
                           self.ins + other.ins)

    def __iadd__(self, other: "ErrorCounts") -> "ErrorCounts":
        self.ref_len += other.ref_len
        self.sub += other.sub
        self.dels += other.dels
        self.ins += other.ins
        return self


class Op(NamedTuple):
    """One alignment step: kind "C", "S", "D" or "I"; `ref`/`hyp` are None on the gap side."""

    kind: str
    ref: Optional[str]
    hyp: Optional[str]


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[Op]:
    """The plain Levenshtein alignment with Kaldi's tie-breaking (the one `count_errors` counts)."""
    ids: dict[str, int] = {}
    ref_ids = [ids.setdefault(w, len(ids)) for w in ref]
    hyp_ids = [ids.setdefault(w, len(ids)) for w in hyp]
    ops: list[Op] = []
    r = h = 0
    for a, b in kaldialign.align(ref_ids, hyp_ids, _GAP):
        if a == _GAP:
            ops.append(Op(INS, None, hyp[h]))
            h += 1
        elif b == _GAP:
            ops.append(Op(DEL, ref[r], None))
            r += 1
        else:
            ops.append(Op(CORRECT if a == b else SUB, ref[r], hyp[h]))
            r += 1
            h += 1
    return ops


def count_errors(ref: Sequence[str], hyp: Sequence[str]) -> ErrorCounts:
    """Levenshtein counts of `hyp` against `ref` (tokens: words or characters), split as Kaldi's `compute-wer`.

    The total always equals jiwer's; on ties Kaldi prefers a deletion/insertion to a substitution or match,
    so the split can differ from jiwer's (whose rapidfuzz backtrace prefers substitutions).
    """
    e = kaldialign.edit_distance(ref, hyp)
    return ErrorCounts(len(ref), e["sub"], e["del"], e["ins"])


def ops_counts(ops: Sequence[Op]) -> ErrorCounts:
    """Counts of an alignment (either kind)."""
    c = ErrorCounts()
    for op in ops:
        if op.kind == SUB:
            c.sub += 1
        elif op.kind == DEL:
            c.dels += 1
        elif op.kind == INS:
            c.ins += 1
        if op.kind != INS:
            c.ref_len += 1
    return c


# ---- sclite -------------------------------------------------------------------------------------------------

SCLITE_SUB, SCLITE_INS_DEL = 4, 3
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sclite_key(word: str, case_sensitive: bool = False) -> str:
    """How sclite compares a word: a trailing `*` is dropped (word.c), and without `-s` only ASCII letters are
    folded to lower case (its default 8-bit encoding: `É` and `é` differ)."""
    if len(word) > 1 and word.endswith("*"):
        word = word[:-1]
    return word if case_sensitive else word.translate(_ASCII_LOWER)


def align_sclite(ref: Sequence[str], hyp: Sequence[str], case_sensitive: bool = False) -> list[Op]:
    """sclite's alignment (net_dp.c): costs match 0, substitution 4, insertion/deletion 3; at each cell the
    diagonal wins ties (`sub <= del && sub <= ins`), then deletion when strictly cheaper than insertion."""
    ref, hyp = list(ref), list(hyp)
    if not ref or not hyp:
        return [Op(DEL, r, None) for r in ref] + [Op(INS, None, h) for h in hyp]
    vocab: dict[str, int] = {}
    r_ids = np.fromiter((vocab.setdefault(sclite_key(w, case_sensitive), len(vocab)) for w in ref),
                        dtype=np.int64, count=len(ref))
    h_ids = np.fromiter((vocab.setdefault(sclite_key(w, case_sensitive), len(vocab)) for w in hyp),
                        dtype=np.int64, count=len(hyp))
    # d[a, b]: cost of ref prefix a against hyp prefix b (a = sclite's net A, the reference)
    gap, sub = SCLITE_INS_DEL, SCLITE_SUB
    n_hyp = len(hyp)
    steps = np.arange(n_hyp + 1, dtype=np.int64) * gap
    d = np.empty((len(ref) + 1, n_hyp + 1), dtype=np.int32)
    d[0] = steps
    t = np.empty(n_hyp + 1, dtype=np.int64)
    for a in range(1, len(ref) + 1):
        prev = d[a - 1]
        t[0] = a * gap
        np.minimum(prev[1:] + gap, prev[:-1] + np.where(h_ids == r_ids[a - 1], 0, sub), out=t[1:])
        d[a] = np.minimum.accumulate(t - steps) + steps
    ops: list[Op] = []
    a, b = len(ref), n_hyp
    while a > 0 and b > 0:
        same = r_ids[a - 1] == h_ids[b - 1]
        sub_d = d[a - 1, b - 1] + (0 if same else sub)
        del_d = d[a - 1, b] + gap
        ins_d = d[a, b - 1] + gap
        if sub_d <= del_d and sub_d <= ins_d:
            ops.append(Op(CORRECT if same else SUB, ref[a - 1], hyp[b - 1]))
            a -= 1
            b -= 1
        elif del_d < ins_d:
            ops.append(Op(DEL, ref[a - 1], None))
            a -= 1
        else:
            ops.append(Op(INS, None, hyp[b - 1]))
            b -= 1
    ops.extend(Op(DEL, ref[k], None) for k in range(a - 1, -1, -1))
    ops.extend(Op(INS, None, hyp[k]) for k in range(b - 1, -1, -1))
    ops.reverse()
    return ops
