"""Text for a spelling LM (asr.decoding.spelling): words spelled out letter by letter, one a line ("L I N D A").

    python -m data_prep.spelling --text data/local/lm_train.txt --out data/local/spell_train.txt
    asr lm data/local/spell_train.txt --out data/local/lm/spell_5gram.arpa --order 5

The words: Webster's Second International word list (`web2`, as the `english-words` package ships it) and the
1990 US census first and last names (the `names` package: 5,494 first names, 88,799 surnames), both installed
with the project, plus any `--words` lists (one word a line, e.g. /usr/share/dict/words); only words of ASCII
letters, case-folded (`--case`), each once. Then the letter runs of `--text` (two or more one-letter words in a
row: AN4's spelled answers), each as often as it occurs: in-domain spellings, whole words or not. On AN4 dev
the census names matter most (its spelled answers are names and streets: NOTES.md).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

from asr.errors import DataError
from asr.fileio import atomic_write_text

log = logging.getLogger("data_prep")

CENSUS_FILES = ("dist.all.last", "dist.female.first", "dist.male.first")  # the `names` package's lists


def builtin_word_lists() -> dict[str, Iterable[str]]:
    """name -> words of the lists installed with the project (see the module doc)."""
    try:
        import names
        from english_words import get_english_words_set
    except ImportError as e:
        raise DataError(f"the spelling LM's word lists need the `{e.name}` package: `make install` installs it "
                        f"(or pip install english-words names)") from None
    census_dir = Path(names.__file__).parent
    census = (line.split()[0] for f in CENSUS_FILES for line in (census_dir / f).read_text().splitlines()
              if line.strip())
    return {"web2": get_english_words_set(["web2"], alpha=True), "census names": census}


def read_word_list(path: str | os.PathLike) -> list[str]:
    """A word list's words (the first field of each line)."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: no such word list") from None
    return [line.split()[0] for line in lines if line.strip()]


def letter_runs(lines: Iterable[str]) -> Iterator[list[str]]:
    """The runs of two or more one-letter words in each line (a sentence a line)."""
    for line in lines:
        run: list[str] = []
        for word in [*line.split(), ""]:
            if len(word) == 1 and word.isalpha():
                run.append(word)
                continue
            if len(run) >= 2:
                yield run
            run = []


def spelling_text(word_lists: dict[str, Iterable[str]], text_lines: Iterable[str] = (), case: str = "upper"
                  ) -> tuple[list[str], dict[str, int]]:
    """The spelling LM's lines and how many each source gave (new words only, in the order given)."""
    fold = str.upper if case == "upper" else str.lower
    seen: set[str] = set()
    lines, counts = [], {}
    for name, words in word_lists.items():
        before = len(seen)
        for word in words:
            if word.isascii() and word.isalpha() and fold(word) not in seen:
                seen.add(fold(word))
                lines.append(" ".join(fold(word)))
        counts[name] = len(seen) - before
    runs = [" ".join(fold(letter) for letter in run) for run in letter_runs(text_lines)]
    counts["letter runs of the text"] = len(runs)
    return lines + runs, counts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the text to write (one spelled word a line)")
    p.add_argument("--text", action="append", default=[], help="training text, a sentence a line: its letter runs")
    p.add_argument("--words", action="append", default=[], help="another word list (one word a line)")
    p.add_argument("--case", choices=("upper", "lower"), default="upper", help="the letters' case (as the lexicon)")
    args = p.parse_args()
    lists = {**builtin_word_lists(), **{str(w): read_word_list(w) for w in args.words}}
    text: list[str] = []
    for path in args.text:
        try:
            text += Path(path).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise DataError(f"{path}: no such text file") from None
    lines, counts = spelling_text(lists, text, args.case)
    atomic_write_text(args.out, "".join(line + "\n" for line in lines))
    log.info("wrote %s: %d lines (%s)", args.out, len(lines), ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    from data_prep.common import run_main

    run_main(main)
