"""Model shapes, frame stacking, CTC training on a tiny batch, the model dir round trip, greedy decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asr.data.sampler import BucketBatchSampler
from asr.decoding.greedy import greedy_decode
from asr.model.model import CTCModel, ModelConfig, stack_frames
from asr.text.tokenizer import CharTokenizer


def test_stack_frames_layout_and_lengths():
    x = torch.arange(2 * 7 * 2, dtype=torch.float32).reshape(2, 7, 2)
    y, lengths = stack_frames(x, torch.tensor([7, 4]), stack=3, subsample=3)
    assert y.shape == (2, 3, 6) and lengths.tolist() == [3, 2]
    assert y[0, 1].tolist() == x[0, 3:6].reshape(-1).tolist()  # frames 3,4,5 spliced
    assert y[0, 2].tolist() == torch.cat([x[0, 6], x[0, 6], x[0, 6]]).tolist()  # end padded with the last frame


@pytest.mark.parametrize("proj", [0, 16])
def test_model_shapes(proj):
    cfg = ModelConfig(input_dim=10, vocab_size=7, num_layers=2, hidden_size=12, proj_size=proj, stack_frames=2,
                      subsample=2)
    model = CTCModel(cfg).eval()
    feats, lengths = torch.randn(3, 9, 10), torch.tensor([9, 5, 2])
    logp, out_lengths = model(feats, lengths)
    assert logp.shape == (3, 5, 7) and out_lengths.tolist() == [5, 3, 1]
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 5), atol=1e-5)
    # padding does not change the valid frames of a shorter utterance
    alone, _ = model(feats[1:2, :5], lengths[1:2])
    assert torch.allclose(alone[0, :3], logp[1, :3], atol=1e-5)


def test_ctc_loss_decreases_on_tiny_batch():
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=8, vocab_size=5, num_layers=2, hidden_size=32, dropout=0.0, stack_frames=1,
                      subsample=1)
    model = CTCModel(cfg)
    feats, lengths = torch.randn(4, 20, 8), torch.tensor([20, 18, 15, 12])
    targets = torch.tensor([1, 2, 3, 2, 4, 1, 3, 3, 4])
    target_lengths = torch.tensor([3, 2, 2, 2])
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        logp, out_lengths = model(feats, lengths)
        loss = model.ctc_loss(logp, out_lengths, targets, target_lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    model.eval()
    logp, out_lengths = model(feats, lengths)
    assert greedy_decode(logp, out_lengths)[0] == [1, 2, 3]


def test_greedy_decode_merges_repeats_and_drops_blanks():
    path = torch.tensor([[0, 1, 1, 0, 1, 2, 2, 0, 3, 3]])
    logp = torch.nn.functional.one_hot(path, 4).float().log()
    assert greedy_decode(logp, torch.tensor([10])) == [[1, 1, 2, 3]]
    assert greedy_decode(logp, torch.tensor([6])) == [[1, 1, 2]]


def test_char_tokenizer_round_trip(tmp_path):
    tok = CharTokenizer.build(["YES NO", "NO"])
    assert tok.tokens == ["<blank>", "<unk>", "<space>", "E", "N", "O", "S", "Y"]
    ids = tok.encode("YES  NO")
    assert ids == [7, 3, 6, 2, 4, 5] and tok.decode(ids) == "YES NO"
    assert tok.encode("YAY") == [7, 1, 7]
    tok.save(tmp_path / "tokens.txt")
    assert CharTokenizer.load(tmp_path / "tokens.txt").tokens == tok.tokens
    (tmp_path / "bad.txt").write_text("<blank> 0\n<unk> 2\n")
    from asr.errors import DataError

    with pytest.raises(DataError, match="bad.txt:2"):
        CharTokenizer.load(tmp_path / "bad.txt")


def test_bucket_sampler_respects_frame_budget_and_is_reproducible():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 500, 200).tolist()
    s = BucketBatchSampler(lengths, max_frames=2000, seed=3)
    batches = list(s)
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert all(max(lengths[i] for i in b) * len(b) <= 2000 for b in batches)
    s.set_epoch(1)
    first = list(s)
    s.set_epoch(2)
    assert list(s) != first
    s.set_epoch(1)
    assert list(s) == first
