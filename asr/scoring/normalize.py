"""Text normalisation before scoring: explicit, configurable, and recorded in every report.

Applied in this order to each whitespace-separated token of REF and HYP alike:
case (keep/lower/upper), punctuation removal (Unicode category P*, keeping apostrophes and hyphens inside a
word), then removal of listed tokens (`<sil>`, `<unk>`, ...; compared case-insensitively) and, when asked,
of hesitations (uh, um, ...). A token left empty by punctuation removal is dropped.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Iterable, Optional, Sequence

from asr.errors import ConfigError

DEFAULT_DROP = ("<sil>", "!sil", "<eps>")
HESITATIONS = ("uh", "um", "uhm", "umm", "er", "erm", "eh", "ah", "hm", "hmm", "mm", "mhm", "%hesitation")
CASES = ("keep", "lower", "upper")


@dataclass(frozen=True)
class Normalization:
    """What is done to the words before they are compared (all off except dropping silence markers)."""

    case: str = "keep"
    remove_punct: bool = False
    drop: tuple[str, ...] = DEFAULT_DROP
    drop_hesitations: bool = False
    hesitations: tuple[str, ...] = HESITATIONS
    _drop_set: frozenset = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.case not in CASES:
            raise ConfigError(f"normalisation case must be one of {', '.join(CASES)}, not '{self.case}'")
        dropped = {t.casefold() for t in self.drop}
        if self.drop_hesitations:
            dropped |= {t.casefold() for t in self.hesitations}
        object.__setattr__(self, "_drop_set", frozenset(dropped))

    @classmethod
    def make(cls, case: str = "keep", remove_punct: bool = False, drop: Optional[Iterable[str]] = None,
             drop_hesitations: bool = False) -> "Normalization":
        return cls(case=case, remove_punct=remove_punct,
                   drop=DEFAULT_DROP if drop is None else tuple(drop), drop_hesitations=drop_hesitations)

    @classmethod
    def none(cls) -> "Normalization":
        """No normalisation at all: words are compared exactly as written."""
        return cls(drop=())

    def words(self, text: str | Sequence[str]) -> list[str]:
        """Normalised words of a transcript (a string or already split tokens)."""
        tokens = text.split() if isinstance(text, str) else text
        out = []
        for tok in tokens:
            if self.case == "lower":
                tok = tok.lower()
            elif self.case == "upper":
                tok = tok.upper()
            if self.remove_punct:
                tok = strip_punct(tok)
                if not tok:
                    continue
            if tok.casefold() in self._drop_set:
                continue
            out.append(tok)
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("_drop_set", None)
        d["drop"] = list(self.drop)
        d["hesitations"] = list(self.hesitations) if self.drop_hesitations else []
        return d

    def describe(self) -> str:
        """One line for text reports."""
        parts = [f"case={self.case}", f"remove_punct={'yes' if self.remove_punct else 'no'}",
                 "drop=" + (",".join(self.drop) if self.drop else "(none)"),
                 f"drop_hesitations={'yes' if self.drop_hesitations else 'no'}"]
        return " ".join(parts)


def strip_punct(token: str) -> str:
    """Remove punctuation characters, keeping `'` and `-` between two letters or digits (don't, x-ray)."""
    chars = []
    for i, ch in enumerate(token):
        if unicodedata.category(ch).startswith("P"):
            inner = 0 < i < len(token) - 1 and token[i - 1].isalnum() and token[i + 1].isalnum()
            if not (inner and ch in "'-’"):
                continue
        chars.append(ch)
    return "".join(chars)
