"""The transcript normalisation of `asr prepare`: each rule, and the count of what it removed."""

from __future__ import annotations

import pytest

from asr.errors import ConfigError
from data_prep.text_norm import TextNormalizer


@pytest.mark.parametrize("text,case,expected", [
    ("Don’t stop—ever!", "upper", "DON'T STOP EVER"),  # typographic apostrophe kept inside a word, em dash gone
    ("'Tis well-known: COVID-19 in 2020.", "lower", "tis well-known covid-19 in 2020"),  # numbers as written
    ("ﬁne　Ｗｏｒｄ", "keep", "fine Word"),  # NFKC: ligature, full-width letters and space
    ("zero\u200bwidth \t tabs\n", "upper", "ZEROWIDTH TABS"),  # format character removed, white space collapsed
    ("50% of $5 - ok", "upper", "50 OF $5 OK"),  # symbols ($) stay, % is punctuation (Po); a lone hyphen goes
    ("Straße", "upper", "STRASSE"),
])
def test_rules(text, case, expected):
    assert TextNormalizer(case).normalize(text) == expected


def test_removed_characters_are_counted():
    n = TextNormalizer()
    n.normalize("a, b, c.")
    n.normalize("d\u200b?")
    assert n.removed == {",": 2, ".": 1, "?": 1, "\u200b": 1}
    assert n.describe()["removed_characters"] == {"U+002C COMMA ','": 2, "U+002E FULL STOP '.'": 1,
                                                  "U+003F QUESTION MARK '?'": 1, "U+200B ZERO WIDTH SPACE": 1}
    assert n.summary(top=2) == "removed 5 characters: 2 ',', 1 '.', ..."
    with pytest.raises(ConfigError, match="--case title"):
        TextNormalizer("title")
