"""lhotse manifests <-> Kaldi data dirs, through lhotse's own readers, writers and Kaldi conversion.

`from_lhotse`: lhotse reads the RecordingSet and SupervisionSet and exports them as a Kaldi dir
(`lhotse.kaldi.export_to_kaldi`; ids get their speaker in front); each exported supervision is then checked and
written as every source is (`data_prep.build`: audio opens, segment inside the recording, text normalised, problems
listed). lhotse writes `ffmpeg ... |` pipes for non-WAV files; those that only pick a file's channel become the
plain path (asr.audio reads any libsndfile format and mixes channels down), and a supervision over several channels
is one utterance of the mixed-down audio.

`to_lhotse`: lhotse's `load_kaldi_data_dir` over a copy that carries `reco2dur` (durations read by asr.audio, so
Kaldi pipes such as AN4's sox command need no sox); each recording then gets its own sample rate (a data dir may
mix rates, lhotse's reader assumes one). Writes `recordings.jsonl.gz` and `supervisions.jsonl.gz`.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from asr.data.kaldi_files import read_table, write_table
from asr.errors import AsrError, DataError
from data_prep.build import Item, write_items
from data_prep.report import PrepareReport
from data_prep.text_norm import TextNormalizer

_FFMPEG = re.compile(r"^ffmpeg -threads 1 -i (?P<path>\S+) -ar \d+ -map_channel 0\.0\.\d+\s+-f wav -threads 1 "
                     r"pipe:1 \|$")


def _need_lhotse() -> None:
    try:
        import lhotse  # noqa: F401
    except ImportError:
        raise AsrError("lhotse is not installed: pip install 'lstm-asr[lhotse]' (or pip install lhotse)") from None


def from_lhotse(recordings: str | os.PathLike, supervisions: str | os.PathLike, out: str | os.PathLike,
                case: str = "keep", strict: bool = False, nj: int = 1) -> PrepareReport:
    _need_lhotse()
    from lhotse import RecordingSet, SupervisionSet
    from lhotse.kaldi import export_to_kaldi
    from lhotse.utils import to_list

    for p in (recordings, supervisions):
        if not Path(p).is_file():
            raise DataError(f"{p}: no such lhotse manifest")
    try:
        recs, sups = RecordingSet.from_file(recordings), SupervisionSet.from_file(supervisions)
    except Exception as e:  # lhotse raises many kinds (ValueError, KeyError, JSONDecodeError) for a bad manifest
        raise DataError(f"{recordings}, {supervisions}: lhotse cannot read them: {type(e).__name__}: {e}") from None
    report = PrepareReport(f"{recordings} + {supervisions}", strict)
    known = set(recs.ids)
    for s in sups:
        if s.recording_id not in known:
            report.add(f"{supervisions}: supervision '{s.id}'", "missing recording",
                       f"recording '{s.recording_id}' is not in {recordings}")
    sups = SupervisionSet.from_segments([s for s in sups if s.recording_id in known])
    with tempfile.TemporaryDirectory(prefix="from-lhotse-") as tmp:
        export_to_kaldi(recs, sups, tmp)  # ids get their speaker prefix in write_items
        wav = read_table(Path(tmp) / "wav.scp")
        segments = {u: v.split() for u, v in read_table(Path(tmp) / "segments").items()}
        text, utt2spk = _read_text(Path(tmp) / "text"), read_table(Path(tmp) / "utt2spk")
    items = []
    for sup in sups:  # a multi-channel export names each channel's copy `<id>-<channel>`: one is enough
        utt = next((k for k in (sup.id, *(f"{sup.id}-{c}" for c in to_list(sup.channel))) if k in segments), None)
        where = f"{supervisions}: supervision '{sup.id}'"
        if utt is None:
            report.add(where, "not exported", "lhotse's Kaldi export left it out")
            continue
        rec, start, end = segments[utt]
        spec = wav.get(rec, "")
        m = _FFMPEG.match(spec)
        if m:
            spec = m["path"]
        elif spec.endswith("|"):
            report.add(where, "unsupported audio source", f"lhotse gives the command `{spec}`")
            continue
        items.append(Item(where, spec, text.get(utt, ""), utt2spk.get(utt), sup.id, float(start), float(end)))
    write_items(items, out, report, TextNormalizer(case), "lhotse", nj=nj)
    return report


def _read_text(path: Path) -> dict[str, str]:
    """lhotse writes `id` alone for an empty text; read_table keeps that as ''."""
    return read_table(path) if path.is_file() else {}


def to_lhotse(data_dir: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write `out/recordings.jsonl.gz` and `out/supervisions.jsonl.gz` for a (valid) data dir."""
    import shutil

    import soundfile as sf

    _need_lhotse()
    from lhotse import RecordingSet
    from lhotse.kaldi import load_kaldi_data_dir
    from lhotse.utils import compute_num_samples, fastcopy

    from asr.audio import duration_s, is_pipe
    from asr.data.validate import require_valid_data_dir

    data_dir, out = Path(data_dir), Path(out)
    require_valid_data_dir(data_dir)
    wav = read_table(data_dir / "wav.scp")
    durations, rates = {}, {}
    for rec, spec in wav.items():
        durations[rec] = duration_s(spec)
        rates[rec] = sf.info(spec).samplerate if not is_pipe(spec) else None
    common = Counter(r for r in rates.values() if r).most_common(1)
    default_rate = common[0][0] if common else 16000
    with tempfile.TemporaryDirectory(prefix="to-lhotse-") as tmp:
        for name in ("wav.scp", "text", "utt2spk", "segments", "spk2gender", "utt2lang"):
            if (data_dir / name).is_file():
                shutil.copyfile(data_dir / name, Path(tmp) / name)
        write_table(Path(tmp) / "reco2dur", {r: f"{d:.6f}" for r, d in durations.items()})
        recs, sups, _ = load_kaldi_data_dir(tmp, default_rate)
    recs = RecordingSet.from_recordings(
        fastcopy(r, sampling_rate=rates[r.id] or default_rate,
                 num_samples=compute_num_samples(r.duration, rates[r.id] or default_rate)) for r in recs)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "recordings.jsonl.gz", out / "supervisions.jsonl.gz"]
    recs.to_file(paths[0])
    if sups is None:
        raise DataError(f"{data_dir}: no utt2spk, so no supervisions")
    sups.to_file(paths[1])
    return paths
