"""The decode stage: a model dir and a data dir with features -> Kaldi `text` of hypotheses."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from tqdm import tqdm

from asr.data.kaldi_files import write_table
from asr.decoding.greedy import greedy_decode
from asr.errors import ConfigError
from asr.features.extract import load_feats_config
from asr.model.store import LoadedModel, load_model_dir
from asr.training.dataset import FeatureDataset
from asr.training.sampler import BucketBatchSampler


@torch.inference_mode()
def decode_dataset(loaded: LoadedModel, dataset: FeatureDataset, max_frames: int = 20000,
                   device: str = "cpu", progress: bool = False) -> dict[str, str]:
    """Greedy-decode every utterance of `dataset`; returns utt -> text."""
    model, tok = loaded.model, loaded.tokenizer
    sampler = BucketBatchSampler(dataset.num_frames, max_frames, shuffle=False)
    hyps = {}
    for indices in tqdm(sampler, desc="decode", unit="batch", disable=not progress):
        batch = dataset.collate(indices).to(device)
        log_probs, out_lengths = model(batch.feats, batch.lengths)
        for utt, ids in zip(batch.utt_ids, greedy_decode(log_probs, out_lengths)):
            hyps[utt] = tok.decode(ids)
    return hyps


def decode_data_dir(model_dir: str | os.PathLike, data_dir: str | os.PathLike, out_dir: str | os.PathLike,
                    device: str = "cpu", progress: bool = True) -> Path:
    """Write `out_dir/text` with the greedy hypotheses for `data_dir`."""
    loaded = load_model_dir(model_dir, device)
    feats_cfg = load_feats_config(data_dir)
    if feats_cfg != loaded.features:
        raise ConfigError(f"{data_dir}: features differ from the model's ({Path(model_dir) / 'config.yaml'}): "
                          f"{feats_cfg} vs {loaded.features}")
    hyps = decode_dataset(loaded, FeatureDataset(data_dir), device=device, progress=progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "text", hyps)
    return out / "text"
