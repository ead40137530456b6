"""REF/HYP pairs for the scoring tests, made by the tests (seeded): a yesno-style decode, a synthetic one with
empty hypotheses, empty references and long utterances, and one with non-ASCII words. Plus helpers to write
them in Kaldi `text` and sclite `trn` form, and to find the sclite binary (Debian's sctk puts it off PATH)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Optional

from helpers import REPO

Pairs = dict[str, tuple[str, str]]  # utt -> (ref, hyp)


def yesno_dir() -> Optional[Path]:
    for root in (os.environ.get("ASR_CORPORA"), "/work/shared/corpora",
                 str(REPO.parent / "shared" / "corpora")):
        if root and (Path(root) / "yesno" / "waves_yesno").is_dir():
            return Path(root) / "yesno" / "waves_yesno"
    return None


def perturb(words: list[str], vocab: list[str], rng: random.Random, p: float = 0.15) -> list[str]:
    out = []
    for w in words:
        r = rng.random()
        if r < p / 3:
            continue  # deletion
        if r < 2 * p / 3:
            out.append(rng.choice([v for v in vocab if v != w] or vocab))  # substitution
        else:
            out.append(w)
        if rng.random() < p / 3:
            out.append(rng.choice(vocab))  # insertion
    return out


def yesno_pairs(seed: int = 1) -> Optional[Pairs]:
    """REF from the yesno file names (1=YES, 0=NO), HYP a seeded perturbation; None without the corpus."""
    d = yesno_dir()
    if d is None:
        return None
    rng = random.Random(seed)
    pairs = {}
    for wav in sorted(d.glob("*.wav")):
        ref = ["YES" if b == "1" else "NO" for b in wav.stem.split("_")]
        pairs[wav.stem] = (" ".join(ref), " ".join(perturb(ref, ["YES", "NO"], rng, 0.2)))
    return pairs


def synthetic_pairs(seed: int = 2) -> Pairs:
    """Several speakers; empty hypotheses, empty references (with and without insertions), 300-word utterances."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(30)] + ["the", "a", "of", "to"]
    pairs = {}
    for s in range(5):
        for i in range(12):
            n = rng.choice([0, 1, 3, 8, 15, 25, 300]) if i > 2 else [0, 300, 5][i]
            ref = [rng.choice(vocab) for _ in range(n)]
            if i == 1 and s % 2:
                hyp = []  # long utterance, nothing recognised
            elif i % 7 == 0:
                hyp = []
            else:
                hyp = perturb(ref, vocab, rng, rng.choice([0.0, 0.1, 0.3, 0.6]))
            if n == 0 and s % 2:
                hyp = [rng.choice(vocab) for _ in range(rng.randint(1, 3))]  # insertions only
            pairs[f"spk{s}-utt{i:03d}"] = (" ".join(ref), " ".join(hyp))
    return pairs


def unicode_pairs(seed: int = 3) -> Pairs:
    """Accents, German, Cyrillic, Greek and CJK words, with case variants (ASCII and non-ASCII)."""
    rng = random.Random(seed)
    vocab = ["café", "CAFÉ", "Café", "naïve", "Straße", "STRASSE", "été", "ÉTÉ", "привет", "Привет", "мир",
             "東京", "日本語", "ελληνικά", "Zürich", "zürich", "Hello", "hello", "crème", "brûlée", "øre", "Ålesund"]
    pairs = {}
    for s, spk in enumerate(["anna", "bjørn", "chloé"]):
        for i in range(10):
            ref = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]
            pairs[f"{spk}_{i:02d}"] = (" ".join(ref), " ".join(perturb(ref, vocab, rng, 0.4)))
    return pairs


def write_text(path: Path, table: dict[str, str]) -> Path:
    """Kaldi text form; an id alone on its line is an empty transcript."""
    path.write_text("".join(f"{u} {t}\n" if t else f"{u}\n" for u, t in table.items()), encoding="utf-8")
    return path


def write_trn(path: Path, table: dict[str, str]) -> Path:
    path.write_text("".join(f"{t} ({u})\n" for u, t in table.items()), encoding="utf-8")
    return path


def write_pairs(d: Path, pairs: Pairs, form: str = "text") -> tuple[Path, Path]:
    d.mkdir(parents=True, exist_ok=True)
    w = write_text if form == "text" else write_trn
    return (w(d / f"ref.{form}", {u: r for u, (r, _) in pairs.items()}),
            w(d / f"hyp.{form}", {u: h for u, (_, h) in pairs.items()}))


def char_table(table: dict[str, str]) -> dict[str, str]:
    """Each character a token, spaces left out: the CER tokens of asr.scoring."""
    return {u: " ".join(c for c in t if not c.isspace()) for u, t in table.items()}


def find_sclite() -> Optional[str]:
    """`sclite` on PATH, else Debian's location (the package installs only an `sctk` wrapper on PATH)."""
    found = shutil.which("sclite")
    if found:
        return found
    debian = Path("/usr/lib/sctk/bin/sclite")
    return str(debian) if debian.is_file() and os.access(debian, os.X_OK) else None


def find_chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def kaldi_reference_counts(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """(sub, del, ins) by a line-for-line Python transcription of Kaldi's `LevenshteinEditDistance`
    (util/edit-distance-inl.h), the function `compute-wer` calls. Slow; for checking only."""
    e = [{"ins": 0, "del": i, "sub": 0, "cost": i} for i in range(len(ref) + 1)]
    for h in range(1, len(hyp) + 1):
        cur = [dict(e[0], ins=e[0]["ins"] + 1, cost=e[0]["cost"] + 1)] + [None] * len(ref)
        for r in range(1, len(ref) + 1):
            ins_err = e[r]["cost"] + 1
            del_err = cur[r - 1]["cost"] + 1
            sub_err = e[r - 1]["cost"] + (hyp[h - 1] != ref[r - 1])
            if sub_err < ins_err and sub_err < del_err:
                cur[r] = dict(e[r - 1], sub=e[r - 1]["sub"] + (hyp[h - 1] != ref[r - 1]), cost=sub_err)
            elif del_err < ins_err:
                cur[r] = dict(cur[r - 1], cost=del_err)
                cur[r]["del"] += 1
            else:
                cur[r] = dict(e[r], ins=e[r]["ins"] + 1, cost=ins_err)
        e = cur
    return e[-1]["sub"], e[-1]["del"], e[-1]["ins"]
