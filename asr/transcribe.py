"""The Transcriber API: a model dir + audio files -> text, through the same feature, model and decoder code
as the recipes.

    from asr import Transcriber
    Transcriber.from_pretrained("egs/yesno/exp/model").transcribe("a.wav")
"""

from __future__ import annotations

import os

import torch

from asr.audio import load_audio
from asr.decoding.greedy import greedy_decode
from asr.features.kaldi import compute_features
from asr.model.store import LoadedModel, load_model_dir


class Transcriber:
    def __init__(self, loaded: LoadedModel, device: str | torch.device = "cpu"):
        self.loaded = loaded
        self.device = torch.device(device)

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, device: str | None = None) -> "Transcriber":
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(load_model_dir(model_dir, device), device)

    def features(self, audio: str) -> torch.Tensor:
        """Raw features (T, D) of an audio file (any rate, any channels), as the model was trained on."""
        cfg = self.loaded.features
        return compute_features(load_audio(audio, cfg.sample_rate), cfg)

    @torch.inference_mode()
    def transcribe(self, audio: str) -> str:
        feats = self.features(audio).to(self.device)
        log_probs, lengths = self.loaded.model(feats[None], torch.tensor([feats.shape[0]]))
        return self.loaded.tokenizer.decode(greedy_decode(log_probs, lengths)[0])
