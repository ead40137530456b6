"""The training loop's pieces made fast for #6: batches made one ahead in a thread (asr.training.loader) and the
dropout masks (asr.model.model.Dropout)."""

from __future__ import annotations

import threading

import pytest
import torch

from asr.data.dataset import FeatureDataset
from asr.model.model import Dropout
from asr.text.tokenizer import CharTokenizer
from asr.training.augment import AugmentConfig, SpecAugment
from asr.training.loader import BatchLoader, batch_generator
from helpers.training import make_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = make_data(tmp_path_factory.mktemp("loader"), "train", 12, seed=5)
    return FeatureDataset(path, CharTokenizer.build(["a b"]))


@pytest.mark.parametrize("background", [True, False])
def test_prefetched_batches_equal_batches_made_in_place_whatever_the_global_rng(data, background):
    aug = SpecAugment(AugmentConfig(freq_masks=2, freq_width=4, time_masks=2, time_width=8))
    order = [(3, [0, 1, 2]), (0, [3, 4]), (7, [5, 6, 7, 8]), (1, [9, 10, 11])]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with BatchLoader(data, aug, seed=11, background=background) as loader:
            seen = []  # a thread started after the loader's gets the process's count, not the loader thread's 1
            later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
            later.start()
            later.join()
            assert seen == [2] and torch.get_num_threads() == 2
            torch.manual_seed(0)
            got = []
            for b in loader.epoch(2, order):
                torch.rand(5)  # the main thread draws meanwhile, as dropout does
                got.append(b)
            # the thread's ops ran on one thread (ATen's per-thread initialisation did not reset it to 2)
            assert loader.threads() == (1 if background else None) and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    for b, (index, indices) in zip(got, order, strict=True):
        ref = data.collate(indices)
        want = aug(ref.feats, ref.lengths, batch_generator(11, 2, index))
        assert b.utt_ids == ref.utt_ids and torch.equal(b.lengths, ref.lengths)
        assert torch.equal(b.feats, want)
        assert not torch.equal(b.feats, ref.feats)  # masked
    other = aug(data.collate([0, 1, 2]).feats, data.collate([0, 1, 2]).lengths, batch_generator(11, 3, 3))
    assert not torch.equal(other, got[0].feats)  # another epoch, other masks


def test_loader_makes_batches_in_a_thread_only_when_a_core_is_spare(data, monkeypatch):
    import asr.training.loader as loader_module

    aug = SpecAugment(AugmentConfig())
    before = torch.get_num_threads()
    try:
        for threads, cores, background in [(1, 2, True), (2, 2, False), (4, 2, False), (2, 8, True)]:
            torch.set_num_threads(threads)
            monkeypatch.setattr(loader_module, "available_cores", lambda: cores)
            with BatchLoader(data, aug, seed=1) as loader:
                assert loader.background is background
    finally:
        torch.set_num_threads(before)


def test_loader_passes_on_an_error_of_its_thread(data):
    with BatchLoader(data, SpecAugment(AugmentConfig()), seed=1, background=True) as loader:
        with pytest.raises(IndexError):
            list(loader.epoch(1, [(0, [0]), (1, [999])]))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_keeps_one_minus_p_and_keeps_the_expectation(p):
    x = torch.ones(200, 100, 50)
    drop = Dropout(p)
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    scale = y[kept].unique()
    assert len(scale) == 1 and abs(scale.item() * round((1 - p) * 65536) / 65536 - 1) < 1e-6
    assert abs(y.mean().item() - 1) < 0.01
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)
    assert not torch.equal(drop(x), y)  # the generator moved on

