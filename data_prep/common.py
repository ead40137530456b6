"""What every corpus preparation shares: finding (or downloading) the corpus and writing a data dir."""

from __future__ import annotations

import argparse
import logging
import os
import tarfile
import urllib.request
from pathlib import Path

from asr.data.datadir import DataDir
from asr.errors import DataError

log = logging.getLogger("data_prep")


def find_corpus(name: str, corpus_dir: str | os.PathLike | None, marker: str, url: str | None = None,
                download_dir: str | os.PathLike = "downloads", unpacks_to: str = "") -> Path:
    """The corpus root: `--corpus-dir`, else `$ASR_CORPORA/<name>`, else download `url` into `download_dir`.

    `marker` is a path inside the root that proves it is the corpus (e.g. `waves_yesno`); `unpacks_to` is the
    folder of the downloaded archive that is the root (AN4's `an4`, LibriSpeech's `LibriSpeech`).
    """
    candidates = [Path(corpus_dir)] if corpus_dir else []
    if not corpus_dir and os.environ.get("ASR_CORPORA"):
        candidates.append(Path(os.environ["ASR_CORPORA"]) / name)
    for c in candidates:
        if (c / marker).exists():
            return c.resolve()
    if corpus_dir:
        raise DataError(f"{corpus_dir}: not a {name} corpus (no {marker} inside)")
    target = Path(download_dir) / name
    root = target / unpacks_to
    if (root / marker).exists():
        return root.resolve()
    if url is None:
        raise DataError(f"{name}: corpus not found; pass --corpus-dir or set ASR_CORPORA")
    target.mkdir(parents=True, exist_ok=True)
    archive = target / Path(url).name
    log.info("downloading %s to %s", url, archive)
    tmp = archive.with_suffix(archive.suffix + ".part")
    urllib.request.urlretrieve(url, tmp)
    tmp.rename(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    if not (root / marker).exists():
        raise DataError(f"{archive}: downloaded archive has no {Path(unpacks_to) / marker}")
    return root.resolve()


def write_data_dir(path: str | os.PathLike, data: DataDir, expected_utts: int | None = None) -> Path:
    """Save a data dir, check the count a split rule promises, and validate it (Kaldi's rules)."""
    from asr.data.validate import assert_valid_data_dir

    n = len(data.utt2spk)
    if expected_utts is not None and n != expected_utts:
        raise DataError(f"{path}: expected {expected_utts} utterances by the split rule, found {n}")
    data.save(path)
    assert_valid_data_dir(path, need_text=data.text is not None)
    log.info("wrote %s: %d utterances, %d speakers", path, n, len(data.spk2utt))
    return Path(path)


Row = tuple[str, str, str, str, float]  # one utterance: (utt id, speaker, wav.scp value, transcript, duration_s)


def write_sets(data_dir: Path, sets: dict[str, list[Row]], expected: dict[str, int] | None = None,
               reports=None) -> dict[str, Path]:
    """Write each non-empty set to `data_dir/<name>` (empty sets are skipped).

    Errors: an utterance id twice, a speaker in two sets (splits are by speaker), or a set whose size differs
    from `expected[name]` (the count the split rule promises; None: no counts to check). `reports`
    (data_prep.report.SetReports): what was dropped, written to each set's `log/prepare_report.txt`; the counts
    checked are then those of `expected` less what was dropped.
    """
    if reports is not None:
        expected = reports.expected(expected)
    owner: dict[str, str] = {}
    out = {}
    for name, rows in sets.items():
        if not rows:
            continue
        d = DataDir(text={}, utt2dur={})
        for utt, spk, wav, text, dur in rows:
            if utt in d.utt2spk:
                raise DataError(f"{data_dir / name}: utterance id '{utt}' occurs twice")
            if owner.setdefault(spk, name) != name:
                raise DataError(f"{data_dir}: speaker '{spk}' is in both {owner[spk]} and {name}")
            d.wav_scp[utt], d.utt2spk[utt], d.text[utt], d.utt2dur[utt] = wav, spk, text, dur
        out[name] = write_data_dir(data_dir / name, d, expected.get(name) if expected else None)
    if reports is not None:
        reports.write(out, {name: len(rows) for name, rows in sets.items()})
    return out


def arg_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--corpus-dir", default=None, help="corpus root (default: $ASR_CORPORA/<name>, else download)")
    p.add_argument("--data-dir", default="data", help="where the data directories go")
    p.add_argument("--download-dir", default="downloads", help="where a downloaded corpus goes")
    p.add_argument("--strict", action="store_true", help="stop at a bad recording instead of listing and dropping it")
    return p


def run_main(main) -> None:
    """Run a prep `main()`, turning our errors into a one-line message and exit 1."""
    import sys

    from asr.errors import AsrError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        main()
    except AsrError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
