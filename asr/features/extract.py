"""The feature stage: data dir -> `feats.scp` (+ ark files), and CMVN stats -> `cmvn.scp`.

As Kaldi's `steps/make_fbank.sh` / `steps/compute_cmvn_stats.sh`: arks go in `feat_dir`
(`raw_<kind>_<name>.<job>.ark`), the data dir gets `feats.scp`, `utt2num_frames`, `cmvn.scp`, and
`feats.yaml` recording the options (training copies it into the model, so decoding uses the same).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import kaldiio
import numpy as np
import yaml
from tqdm import tqdm

from asr.audio import load_audio
from asr.data.datadir import DataDir, Utterance
from asr.data.kaldi_files import read_table, write_table
from asr.errors import AsrError, DataError
from asr.features.cmvn import accumulate_stats
from asr.features.kaldi import FeatureConfig, compute_features
from asr.fileio import atomic_write_text

FEATS_CONFIG = "feats.yaml"


def utterance_features(utt: Utterance, config: FeatureConfig):
    """Load one utterance's audio (segment, resampled) and compute its features (T, D)."""
    if utt.wav is None:
        raise DataError(f"utterance '{utt.utt_id}' has no wav.scp entry")
    samples = load_audio(utt.wav, config.sample_rate, utt.start_s, utt.end_s)
    return compute_features(samples, config).numpy()


_progress = None


def _init_worker(counter):
    global _progress
    _progress = counter
    import torch

    torch.set_num_threads(1)


def _tick_shared_counter():
    with _progress.get_lock():
        _progress.value += 1


def _run_job(args, tick=_tick_shared_counter) -> tuple[int, str | None]:
    """One job: features of a slice of utterances -> its own ark/scp (renamed into place when complete)."""
    job, utts, config, ark = args
    try:
        with kaldiio.WriteHelper(f"ark,scp:{ark}.tmp,{ark[:-4]}.scp.tmp") as writer:
            for utt in utts:
                writer(utt.utt_id, utterance_features(utt, config))
                tick()
        os.replace(f"{ark}.tmp", ark)
        # the scp names the temporary ark; point it at the final name
        scp_tmp = f"{ark[:-4]}.scp.tmp"
        text = Path(scp_tmp).read_text().replace(f"{ark}.tmp:", f"{ark}:")
        atomic_write_text(f"{ark[:-4]}.scp", text)
        os.unlink(scp_tmp)
        return job, None
    except AsrError as e:
        return job, str(e)


def make_feats(data_dir: str | os.PathLike, config: FeatureConfig, feat_dir: str | os.PathLike | None = None,
               nj: int = 1, name: str | None = None, progress: bool = True) -> Path:
    """Compute features for every utterance of `data_dir` with `nj` parallel jobs; returns the feats.scp path."""
    data_dir = Path(data_dir)
    data = DataDir.load(data_dir)
    utts = list(data.utterances())
    if not utts:
        raise DataError(f"{data_dir}: no utterances")
    feat_dir = Path(feat_dir or data_dir / "data").resolve()
    feat_dir.mkdir(parents=True, exist_ok=True)
    name = name or data_dir.name
    nj = max(1, min(nj, len(utts)))
    chunks = [utts[i * len(utts) // nj:(i + 1) * len(utts) // nj] for i in range(nj)]
    jobs = [(j + 1, chunk, config, str(feat_dir / f"raw_{config.kind}_{name}.{j + 1}.ark"))
            for j, chunk in enumerate(chunks)]
    bar = tqdm(total=len(utts), desc=f"{config.kind} {name}", unit="utt", disable=not progress, mininterval=0.5)
    if nj == 1:
        errors = [r for r in [_run_job(jobs[0], tick=lambda: bar.update(1))] if r[1]]
    else:
        ctx = mp.get_context("spawn")
        counter = ctx.Value("i", 0)
        with ctx.Pool(nj, initializer=_init_worker, initargs=(counter,)) as pool:
            result = pool.map_async(_run_job, jobs)
            while not result.ready():
                result.wait(0.2)
                bar.update(counter.value - bar.n)
            bar.update(counter.value - bar.n)
            errors = [(j, err) for j, err in result.get() if err]
    bar.close()
    if errors:
        raise DataError("; ".join(f"job {j}: {err}" for j, err in errors))
    feats = {}
    for job in jobs:
        feats.update(read_table(job[3][:-4] + ".scp"))
    write_table(data_dir / "feats.scp", feats)
    write_table(data_dir / "utt2num_frames",
                {u: str(m.shape[0]) for u, m in kaldiio.load_scp(str(data_dir / "feats.scp")).items()})
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


def load_feats_config(data_dir: str | os.PathLike) -> FeatureConfig:
    path = Path(data_dir) / FEATS_CONFIG
    if not path.exists():
        raise DataError(f"{path}: missing; features were not made by `asr feats` (pass the options explicitly)")
    return FeatureConfig.from_dict(yaml.safe_load(path.read_text()))
