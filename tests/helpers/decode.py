"""A decodable setup for decoding tests: a data dir of random features with transcripts, a model dir holding a
random-weight CTC model with the given units, a lexicon and a bigram ARPA LM over the transcripts; and `frames`,
log-probs written out by hand."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np
import torch
import yaml

from asr.data.kaldi_files import read_table, utt2spk_to_spk2utt, write_table
from asr.decoding.ngram import NGramLM
from asr.features.kaldi import FeatureConfig
from asr.model.model import CTCModel, ModelConfig

LEXICON_TXT = "YES Y EH S\nNO N OW\n"
TOKENS = ["<blank>", "<unk>", "<space>", "A", "B"]  # the units of `frames`
EPS = 1e-6


def frames(*dists: dict) -> torch.Tensor:
    """(T, 5) log-probs over TOKENS from per-frame {token: probability} (the rest EPS)."""
    out = torch.full((len(dists), len(TOKENS)), EPS)
    for t, d in enumerate(dists):
        for token, p in d.items():
            out[t, TOKENS.index(token)] = p
    return out.log()


def decode_setup(root: Path, texts: dict[str, str], tokenizer, num_frames: list[int], num_layers: int):
    """(data dir, model dir) under root, plus root/lexicon.txt and root/lm.arpa; utterance ids are `<spk>-<x>`."""
    feats = FeatureConfig(num_mel_bins=8)
    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    with kaldiio.WriteHelper(f"ark,scp:{data / 'feats.ark'},{data / 'feats.scp'}") as w:
        for utt, n in zip(texts, num_frames):
            w(utt, rng.standard_normal((n, 8)).astype(np.float32))
    (data / "text").write_text("".join(f"{u} {t}\n" for u, t in texts.items()))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in texts))
    write_table(data / "spk2utt", utt2spk_to_spk2utt(read_table(data / "utt2spk")))
    (data / "feats.yaml").write_text(yaml.safe_dump(feats.to_dict()))
    model_dir = root / "model"
    model_dir.mkdir()
    tokenizer.save_dir(model_dir)
    cfg = ModelConfig(input_dim=8, vocab_size=len(tokenizer), num_layers=num_layers, hidden_size=8)
    torch.manual_seed(0)
    torch.save(CTCModel(cfg).state_dict(), model_dir / "model.pt")
    (model_dir / "config.yaml").write_text(yaml.safe_dump({"features": feats.to_dict(), "model": cfg.to_dict()}))
    (root / "lexicon.txt").write_text(LEXICON_TXT)
    NGramLM(texts.values(), 2).to_arpa(root / "lm.arpa")
    return data, model_dir
