"""A streaming model config trains with the same `asr train` (chunk-wise LC-BLSTM, running CMN), and its model
dir streams: the session's log-probs are those of the model's forward pass."""

from __future__ import annotations

import copy

import torch

from asr.model.store import load_model_dir
from asr.model.stream import ModelStream
from asr.text.tokenizer import CharTokenizer
from asr.training.trainer import train
from helpers.training import CONFIG, make_data


def test_lc_blstm_trains_and_streams(tmp_path):
    train_dir, dev_dir = make_data(tmp_path, "train", 12, 0), make_data(tmp_path, "dev", 3, 1)
    tokens = tmp_path / "tokens.txt"
    CharTokenizer.build(["a b"]).save(tokens)
    config = copy.deepcopy(CONFIG)
    config["model"].update(chunk_size=4, right_context=2, cmn="running", cmn_time_constant=20.0)
    config["training"].update(epochs=1)
    exp = train(config, train_dir, dev_dir, tokens, tmp_path / "exp", device="cpu", progress=False)
    loaded = load_model_dir(exp)
    assert loaded.model.config.streaming and loaded.model.config.chunk_size == 4
    feats = torch.randn(37, 12)
    with torch.no_grad():
        whole, _ = loaded.model(feats[None], torch.tensor([37]))
    stream = ModelStream(loaded.model)
    got = torch.cat([stream.accept(feats[:10]), stream.accept(feats[10:11]), stream.accept(feats[11:]),
                     stream.finish()])
    torch.testing.assert_close(got, whole[0], atol=1e-5, rtol=1e-5)
