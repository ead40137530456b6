"""Transcript normalisation for user corpora, explicit and counted (what `asr prepare` does to text).

Rules, in order: Unicode NFKC (full-width letters, ligatures, compatibility forms become their plain form);
typographic apostrophes (’ ‘ ʼ) and hyphens (‐ ‑) become `'` and `-`; punctuation (Unicode category P*) is
removed, except an apostrophe or hyphen between two letters or digits (`don't`, `well-known`); control and format
characters (zero-width spaces, BOMs) are removed; white space is collapsed; case is set (`upper`, `lower`,
`keep`). Numbers stay as written (`42` is not `FORTY TWO`); symbols (`%`, `$`, `+`) stay. Every removed character
is counted, so a user sees what happened to their text (`log/prepare.yaml`).
"""

from __future__ import annotations

import unicodedata
from collections import Counter

CASES = ("upper", "lower", "keep")
DEFAULT_CASE = "upper"  # as Kaldi's and ESPnet's English recipes (and this project's corpora) write transcripts
_SAME = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"}
_KEPT_INSIDE = "'-"


class TextNormalizer:
    """`normalize(text)` applies the module's rules; `removed` counts every character taken out."""

    def __init__(self, case: str = DEFAULT_CASE):
        if case not in CASES:
            raise ValueError(f"case must be one of {', '.join(CASES)}, not '{case}'")
        self.case = case
        self.removed: Counter = Counter()

    def normalize(self, text: str) -> str:
        s = unicodedata.normalize("NFKC", text)
        s = "".join(_SAME.get(c, c) for c in s)
        out = []
        for i, c in enumerate(s):
            cat = unicodedata.category(c)
            if c.isspace():
                out.append(" ")
            elif cat.startswith("P"):
                inside = (c in _KEPT_INSIDE and 0 < i < len(s) - 1 and s[i - 1].isalnum() and s[i + 1].isalnum())
                if inside:
                    out.append(c)
                else:
                    self.removed[c] += 1
                    out.append(" ")
            elif cat in ("Cc", "Cf", "Co", "Cn"):
                self.removed[c] += 1
            else:
                out.append(c)
        s = " ".join("".join(out).split())
        return s.upper() if self.case == "upper" else s.lower() if self.case == "lower" else s

    def describe(self) -> dict:
        """The rules and counts, for `log/prepare.yaml`."""
        return {"case": self.case, "unicode": "NFKC",
                "punctuation": "removed, except apostrophes and hyphens between letters or digits",
                "numbers": "kept as written",
                "removed_characters": {char_name(c): n for c, n in sorted(self.removed.items(),
                                                                           key=lambda x: (-x[1], x[0]))}}

    def summary(self, top: int = 5) -> str:
        """One phrase: `removed 17 characters: 9 ',', 5 '.', ...`."""
        total = sum(self.removed.values())
        if not total:
            return "removed no characters"
        most = ", ".join(f"{n} {c!r}" for c, n in self.removed.most_common(top))
        return f"removed {total} character{'s' * (total != 1)}: {most}" + (", ..." if len(self.removed) > top else "")


def char_name(c: str) -> str:
    """`U+002C COMMA ','` (printable) or `U+200B ZERO WIDTH SPACE`."""
    name = unicodedata.name(c, "")
    shown = f" {c!r}" if c.isprintable() else ""
    return f"U+{ord(c):04X} {name}{shown}".replace("  ", " ")
