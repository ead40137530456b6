"""Utterances of a data dir as (features, token ids), held in memory, and their padded batches."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import kaldiio
import numpy as np
import torch

from asr.data.datadir import DataDir
from asr.errors import DataError


class Encoder(Protocol):
    """What a dataset needs of a tokenizer (asr.text): a transcript -> token ids (or every sequence of them)."""

    def encode(self, text: str) -> list[int]: ...

    def encode_variants(self, text: str, limit: int) -> list[list[int]]: ...


@dataclass
class Variants:
    """A batch's other target sequences (a lexicon's other pronunciations): sequence i belongs to the batch's
    utterance rows[i]; the CTC loss sums over an utterance's sequences (asr.model.model.ctc_loss)."""
    rows: torch.Tensor  # (M,)
    targets: torch.Tensor  # (sum of target lengths,) concatenated
    target_lengths: torch.Tensor  # (M,)

    def to(self, device) -> "Variants":
        return Variants(self.rows.to(device), self.targets.to(device), self.target_lengths.to(device))


@dataclass
class Batch:
    utt_ids: list[str]
    feats: torch.Tensor  # (N, T, D), zero padded
    lengths: torch.Tensor  # (N,)
    targets: torch.Tensor  # (sum of target lengths,) concatenated
    target_lengths: torch.Tensor  # (N,)
    variants: Variants | None = None  # other target sequences of these utterances (`variants` > 1 datasets)

    def to(self, device) -> "Batch":
        return Batch(self.utt_ids, self.feats.to(device), self.lengths.to(device), self.targets.to(device),
                     self.target_lengths.to(device), None if self.variants is None else self.variants.to(device))


class FeatureDataset(torch.utils.data.Dataset):
    """Features from `feats.scp` (ours or Kaldi's) and, when a tokenizer is given, targets from `text`;
    `cmvn`: utt -> (mean, std) its features are normalised with (its speaker's, for speaker CMN); `variants` > 1:
    batches also carry up to that many target sequences an utterance (the tokenizer's encode_variants)."""

    def __init__(self, data_dir: str | os.PathLike, tokenizer: Encoder | None = None,
                 cmvn: dict[str, tuple[np.ndarray, np.ndarray]] | None = None, variants: int = 1):
        data_dir = Path(data_dir)
        data = DataDir.load(data_dir)
        if data.feats_scp is None:
            raise DataError(f"{data_dir}: no feats.scp; run `asr feats` first")
        if tokenizer is not None and data.text is None:
            raise DataError(f"{data_dir}: no text file")
        reader = kaldiio.load_scp(str(data_dir / "feats.scp"))
        self.utt_ids = sorted(data.feats_scp)
        self.feats = [torch.from_numpy(np.array(reader[u], dtype=np.float32)) for u in self.utt_ids]
        if cmvn is not None:
            self.feats = [(f - torch.from_numpy(cmvn[u][0])) / torch.from_numpy(cmvn[u][1])
                          for f, u in zip(self.feats, self.utt_ids)]
        self.targets, self.other_targets = None, None
        if tokenizer is not None:
            missing = [u for u in self.utt_ids if u not in data.text]
            if missing:
                raise DataError(f"{data_dir / 'text'}: no transcript for '{missing[0]}' ({len(missing)} missing)")
            self.texts = [data.text[u] for u in self.utt_ids]
            self.targets = [torch.tensor(tokenizer.encode(t), dtype=torch.long) for t in self.texts]
            if variants > 1:
                self.other_targets = [[torch.tensor(v, dtype=torch.long) for v in
                                       tokenizer.encode_variants(t, variants)[1:]] for t in self.texts]

    def __len__(self) -> int:
        return len(self.utt_ids)

    def keep(self, indices: list[int]) -> None:
        """Keep only the utterances at `indices` (in that order)."""
        self.utt_ids = [self.utt_ids[i] for i in indices]
        self.feats = [self.feats[i] for i in indices]
        if self.targets is not None:
            self.texts = [self.texts[i] for i in indices]
            self.targets = [self.targets[i] for i in indices]
            if self.other_targets is not None:
                self.other_targets = [self.other_targets[i] for i in indices]

    def __getitem__(self, i: int) -> int:
        return i

    @property
    def num_frames(self) -> list[int]:
        return [f.shape[0] for f in self.feats]

    def collate(self, indices: list[int]) -> Batch:
        feats = [self.feats[i] for i in indices]
        lengths = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
        if self.targets is not None:
            tgts = [self.targets[i] for i in indices]
            targets, target_lengths = torch.cat(tgts), torch.tensor([len(t) for t in tgts])
        else:
            targets, target_lengths = torch.zeros(0, dtype=torch.long), torch.zeros(len(indices), dtype=torch.long)
        return Batch([self.utt_ids[i] for i in indices], padded, lengths, targets, target_lengths,
                     self.collate_variants(indices))

    def collate_variants(self, indices: list[int]) -> Variants | None:
        if self.other_targets is None:
            return None
        rows = [(row, v) for row, i in enumerate(indices) for v in self.other_targets[i]]
        if not rows:
            return None
        return Variants(torch.tensor([r for r, _ in rows]), torch.cat([v for _, v in rows]),
                        torch.tensor([len(v) for _, v in rows]))
