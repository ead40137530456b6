"""The feature stage: data dir -> `feats.scp` (+ ark files), and CMVN stats -> `cmvn.scp`.

As Kaldi's `steps/make_fbank.sh` / `steps/compute_cmvn_stats.sh`: arks go in `feat_dir`
(`raw_<kind>_<name>.<job>.ark`), the data dir gets `feats.scp`, `utt2num_frames`, `cmvn.scp`, and
`feats.yaml` recording the options (training copies it into the model, so decoding uses the same).

Bad audio never stops the stage (Kaldi's compute-fbank-feats logs and goes on, then fix_data_dir.sh drops the
utterances): an utterance whose audio is missing, empty, truncated, not audio, has NaN samples, another
sample rate (only with `resample=False`, as Kaldi), or gives no frames is listed in
`data/<set>/log/feats_report.txt` and dropped from the data dir (originals in `.backup/`). `strict=True` stops with
an error instead.

A data dir may mix sample rates and channel counts: each recording is resampled to the config's rate
(torchaudio's sinc resampler) and mixed down to mono, never silently: `data/<set>/log/feats_audio.txt` says how many
recordings were converted from what (`resampled 1,204 of 1,300 recordings from 48000 Hz to 16000 Hz`), and the
command prints it; upsampling (a recording below the config's rate) is allowed, and its line is a warning.
The stage starts by removing the outputs of an earlier run (feats.scp, utt2num_frames, cmvn.scp, feats.yaml),
so one killed half-way never looks finished, and writes them only when every job is complete.
Jobs (`nj`, `cmd`): see `make_feats` and asr.parallel; a failed job stops the stage, naming its log.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import kaldiio
import numpy as np
import yaml
from tqdm import tqdm

from asr.audio import load_audio_as_recorded
from asr.data.datadir import FEATS_CONFIG, FEATURE_FILES, DataDir, Utterance
from asr.data.kaldi_files import read_table, write_table
from asr.data.screen import Rejected, ScreenReport, report_path
from asr.data.subset import filter_data_dir, split_data_dir
from asr.errors import AudioError, DataError
from asr.features.cmvn import accumulate_stats, speaker_normaliser
from asr.features.kaldi import FeatureConfig, compute_features
from asr.fileio import atomic_write_text
from asr.parallel import parse_cmd, run_jobs, tick

OUTPUTS = FEATURE_FILES  # what the stage writes into the data dir


AUDIO_NOTES = "feats_audio.txt"  # in data/<set>/log/: what conversions the audio went through
WARNING = "warning: "


def utterance_features(utt: Utterance, config: FeatureConfig, resample_ok: bool = True, formats: dict | None = None):
    """Load one utterance's audio (segment, resampled, mono) and compute its features (T, D).
    `resample_ok=False`: audio at another rate than `config.sample_rate` is an AudioError.
    `formats`: gets `{wav.scp value: (sample rate, channels)}` of the recording."""
    if utt.wav is None:
        raise AudioError(f"utterance '{utt.utt_id}' has no wav.scp entry", "no recording")
    samples, rate, channels = load_audio_as_recorded(utt.wav, config.sample_rate, utt.start_s, utt.end_s,
                                                     resample_ok=resample_ok)
    if formats is not None:
        formats[utt.wav] = (rate, channels)
    feats = compute_features(samples, config).numpy()
    if feats.shape[0] == 0:
        raise AudioError(f"{utt.wav}: {len(samples) / config.sample_rate:.3f} s of audio gives no "
                         f"{config.frame_length_ms:g} ms frame", "no frames")
    return feats


def audio_notes(formats: dict[str, tuple[int, int]], sample_rate: int) -> list[str]:
    """What the feature stage did to the recordings (`{wav.scp value: (rate, channels)}`) to get mono audio at
    `sample_rate`: one line per source rate and channel count converted; upsampling lines start `warning: `."""
    total = len(formats)
    rates = Counter(rate for rate, _ in formats.values())
    channels = Counter(ch for _, ch in formats.values())
    notes = []
    for rate, n in sorted(rates.items()):
        if rate > sample_rate:
            notes.append(f"resampled {n:,} of {total:,} recordings from {rate} Hz to {sample_rate} Hz")
        elif rate < sample_rate:
            notes.append(f"{WARNING}upsampled {n:,} of {total:,} recordings from {rate} Hz to {sample_rate} Hz: they "
                         f"hold nothing above {rate // 2} Hz (the features' upper bands are empty for them)")
    for ch, n in sorted(channels.items()):
        if ch > 1:
            notes.append(f"mixed down {n:,} of {total:,} recordings from {ch} channels to mono")
    if not notes:
        notes.append(f"all {total:,} recordings at {sample_rate} Hz, mono: no conversion")
    return notes


def feature_job(job: int, data_dir: str, config: FeatureConfig, ark: str,
                resample_ok: bool) -> tuple[list[Rejected], dict[str, str], dict[str, tuple[int, int]]]:
    """One job (asr.parallel): features of the utterances of `data_dir` (a split) -> its own ark/scp, renamed
    into place when complete; returns the utterances whose audio failed, each written utterance's frames, and
    each recording's (sample rate, channels)."""
    rejected, num_frames, formats = [], {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{ark}.tmp,{ark[:-4]}.scp.tmp") as writer:
        for utt in DataDir.load(data_dir).utterances():
            try:
                feats = utterance_features(utt, config, resample_ok, formats)
                writer(utt.utt_id, feats)
                num_frames[utt.utt_id] = str(feats.shape[0])
            except AudioError as e:
                rejected.append(Rejected(utt.utt_id, e.reason, str(e)))
            tick()
    os.replace(f"{ark}.tmp", ark)
    # the scp names the temporary ark; point it at the final name
    scp_tmp = f"{ark[:-4]}.scp.tmp"
    text = Path(scp_tmp).read_text().replace(f"{ark}.tmp:", f"{ark}:")
    atomic_write_text(f"{ark[:-4]}.scp", text)
    os.unlink(scp_tmp)
    return rejected, num_frames, formats


def make_feats(data_dir: str | os.PathLike, config: FeatureConfig, feat_dir: str | os.PathLike | None = None,
               nj: int = 1, name: str | None = None, progress: bool = True, strict: bool = False,
               resample: bool = True, cmd: str = "local") -> Path:
    """Compute features for every utterance of `data_dir` with `nj` parallel jobs; returns the feats.scp path.
    Utterances whose audio fails are reported and dropped (see the module docstring; `strict`: an error).
    Recordings at another rate are resampled and the conversions listed in `data_dir/log/feats_audio.txt`
    (`resample=False`: they are bad utterances, as Kaldi's compute-fbank-feats without --allow-downsample).
    With nj > 1 the jobs are the parts of `data_dir/split<nj>utt/` (Kaldi's split_data.sh --per-utt), run by
    `cmd` (asr.parallel: `local` or `slurm [sbatch options]`), each logging to `data_dir/log/make_<kind>.JOB.log`;
    the outputs do not depend on `cmd`."""
    data_dir = Path(data_dir)
    data = DataDir.load(data_dir)
    utts = list(data.utterances())
    if not utts:
        raise DataError(f"{data_dir}: no utterances")
    feat_dir = Path(feat_dir or data_dir / "data").resolve()
    feat_dir.mkdir(parents=True, exist_ok=True)
    name = name or data_dir.name
    for out in OUTPUTS:
        (data_dir / out).unlink(missing_ok=True)
    for stale in feat_dir.glob(f"raw_{config.kind}_{name}.*.tmp"):  # left by a job that was killed
        stale.unlink()
    nj = max(1, min(nj, len(utts)))
    parts = split_data_dir(data_dir, nj, per_utt=True) if nj > 1 else [data_dir]
    (data_dir / "log" / AUDIO_NOTES).unlink(missing_ok=True)
    jobs = [(j, str(part), config, str(feat_dir / f"raw_{config.kind}_{name}.{j}.ark"), resample)
            for j, part in enumerate(parts, 1)]
    bar = tqdm(total=len(utts), desc=f"{config.kind} {name}", unit="utt", mininterval=0.5,
               disable=not progress or parse_cmd(cmd)[0] != "local")  # Slurm jobs report no progress
    try:
        results = run_jobs(feature_job, jobs, cmd, data_dir / "log", f"make_{config.kind}", on_progress=bar.update)
    finally:
        bar.close()
    report = ScreenReport("feats", str(data_dir), len(utts), [r for rejected, _, _ in results for r in rejected])
    report_file = report.write(report_path(data_dir, "feats"), screened={u.utt_id for u in utts})
    report.check(strict, report_file)
    feats = {}
    for job in jobs:
        feats.update(read_table(job[3][:-4] + ".scp"))
    if not feats:
        raise DataError(f"{data_dir}: no utterance has usable audio ({report.summary()}; see {report_file})")
    if len(feats) < len(utts):  # as fix_data_dir.sh after make_fbank.sh: keep what has features
        filter_data_dir(data_dir, data_dir, feats, backup=data_dir / ".backup")
    write_table(data_dir / "feats.scp", feats)
    num_frames = {u: n for _, frames, _ in results for u, n in frames.items()}
    formats = {spec: f for _, _, job_formats in results for spec, f in job_formats.items()}
    atomic_write_text(data_dir / "log" / AUDIO_NOTES, "".join(f"{line}\n" for line in
                                                               audio_notes(formats, config.sample_rate)))
    write_table(data_dir / "utt2num_frames", {u: num_frames[u] for u in feats})
    atomic_write_text(data_dir / FEATS_CONFIG, yaml.safe_dump(config.to_dict(), sort_keys=False))
    return data_dir / "feats.scp"


def compute_cmvn_stats(data_dir: str | os.PathLike, feat_dir: str | os.PathLike | None = None,
                       name: str | None = None) -> Path:
    """Per-speaker CMVN stats (Kaldi layout) -> `<feat_dir>/cmvn_<name>.ark` and `data_dir/cmvn.scp`."""
    data_dir = Path(data_dir)
    data = DataDir.load(data_dir)
    if data.feats_scp is None:
        raise DataError(f"{data_dir}: no feats.scp; run the feature stage first")
    feat_dir = Path(feat_dir or data_dir / "data").resolve()
    name = name or data_dir.name
    feats = kaldiio.load_scp(str(data_dir / "feats.scp"))
    ark = feat_dir / f"cmvn_{name}.ark"
    with kaldiio.WriteHelper(f"ark,scp:{ark}.tmp,{feat_dir / f'cmvn_{name}.scp'}.tmp") as writer:
        for spk, spk_utts in data.spk2utt.items():
            stats = None
            for utt in spk_utts:
                stats = accumulate_stats(feats[utt], stats)
            writer(spk, stats)
    os.replace(f"{ark}.tmp", ark)
    scp = Path(f"{feat_dir / f'cmvn_{name}.scp'}.tmp")
    write_table(data_dir / "cmvn.scp", {k: v.replace(f"{ark}.tmp:", f"{ark}:") for k, v in read_table(scp).items()})
    scp.unlink()
    return data_dir / "cmvn.scp"


def global_cmvn_stats(data_dir: str | os.PathLike) -> np.ndarray:
    """Global stats of a data dir: the sum of its per-speaker stats in `cmvn.scp`."""
    data_dir = Path(data_dir)
    if not (data_dir / "cmvn.scp").exists():
        raise DataError(f"{data_dir}: no cmvn.scp; run the CMVN stage first")
    total = None
    for stats in kaldiio.load_scp(str(data_dir / "cmvn.scp")).values():
        total = np.array(stats, dtype=np.float64) if total is None else total + stats
    return total


SPEAKER_STD_FLOOR = 0.1  # speaker_mv: as the model's utterance_mv floor, a (nearly) constant bin is not blown up


def speaker_cmvn(data_dir: str | os.PathLike, norm_vars: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """utt -> (mean, std) of its speaker's features, from the per-speaker stats in `cmvn.scp` and `utt2spk`
    (what Kaldi's `apply-cmvn --utt2spk [--norm-vars]` applies; std all ones without norm_vars, else floored at
    SPEAKER_STD_FLOOR): how a `cmn: speaker` / `speaker_mv` model's input is normalised. A DataError names the
    first utterance of feats.scp without a speaker."""
    data_dir = Path(data_dir)
    scp = data_dir / "cmvn.scp"
    if not scp.is_file():
        raise DataError(f"{scp}: missing; a cmn: speaker model needs per-speaker stats (`asr feats` writes them)")
    stats = kaldiio.load_scp(str(scp))
    by_speaker: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    out = {}
    for utt, spk in DataDir.load(data_dir).utt2spk.items():
        if spk not in by_speaker:
            if spk not in stats:
                raise DataError(f"{scp}: no stats for speaker '{spk}' (of utterance '{utt}'); rerun `asr feats`")
            by_speaker[spk] = speaker_normaliser(stats[spk], norm_vars, SPEAKER_STD_FLOOR)
        out[utt] = by_speaker[spk]
    feats_scp = data_dir / "feats.scp"
    missing = [u for u in read_table(feats_scp) if u not in out] if feats_scp.is_file() else []
    if missing:
        raise DataError(f"{data_dir / 'utt2spk'}: no speaker for '{missing[0]}' ({len(missing)} missing)")
    return out


def load_feats_config(data_dir: str | os.PathLike) -> FeatureConfig:
    path = Path(data_dir) / FEATS_CONFIG
    if not path.exists():
        raise DataError(f"{path}: missing; features were not made by `asr feats` (pass the options explicitly)")
    return FeatureConfig.from_dict(yaml.safe_load(path.read_text()))
