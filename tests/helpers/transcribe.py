"""Models and audio for the transcribe tests, made in milliseconds.

`LevelModel` is a stand-in acoustic model whose output we control: each output frame's token is read from the
loudness of its first input frame (quiet: blank, soft: <space>, loud: A, louder: B). It has no memory, so any
window of a recording gives the same frames as the whole: what chunked transcription returns must equal the
truth exactly. `level_audio` builds a recording of such words at known offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from asr.features.kaldi import FeatureConfig, compute_features
from asr.model.model import CTCModel, ModelConfig
from asr.model.store import LoadedModel, save_weights, write_config
from asr.text.tokenizer import CharTokenizer

RATE = 16000
SUBSAMPLE = 3
FRAME = RATE // 100 * SUBSAMPLE  # samples per output frame (30 ms)
LEVELS = {"": 0.001, " ": 0.02, "A": 0.1, "B": 0.4}  # noise RMS of silence, the space burst, words A and B
TOKENS = ["<blank>", "<unk>", "<space>", "A", "B"]


def noise(n: int, rms: float, rng: np.random.Generator) -> np.ndarray:
    return (rms * rng.standard_normal(n)).astype(np.float32)


class LevelModel(torch.nn.Module):
    def __init__(self, thresholds: torch.Tensor):
        super().__init__()
        self.config = SimpleNamespace(subsample=SUBSAMPLE, stack_frames=SUBSAMPLE)
        self.thresholds = thresholds
        self.token_of_level = torch.tensor([0, 2, 3, 4])

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor):
        level = torch.bucketize(feats[:, ::SUBSAMPLE].mean(-1), self.thresholds)
        ids = self.token_of_level[level]
        log_probs = F.log_softmax(F.one_hot(ids, len(TOKENS)).float() * 6.0, dim=-1)
        return log_probs, (lengths + SUBSAMPLE - 1) // SUBSAMPLE


def level_model() -> LoadedModel:
    """The LevelModel with thresholds halfway between the levels' mean log-mel energy."""
    cfg = FeatureConfig(sample_rate=RATE, num_mel_bins=40)
    rng = np.random.default_rng(0)
    means = [float(compute_features(noise(RATE, rms, rng), cfg).mean()) for rms in LEVELS.values()]
    thresholds = torch.tensor([(a + b) / 2 for a, b in zip(means, means[1:])])
    return LoadedModel(LevelModel(thresholds), CharTokenizer(TOKENS), cfg, {})


class StreamingLevelModel(LevelModel):
    """The LevelModel as a streaming model: `stream()` gives its output frame by frame (it has no memory, so
    the frames equal the whole recording's: what a stream session returns must equal the truth)."""

    def __init__(self, thresholds: torch.Tensor):
        super().__init__(thresholds)
        self.config.streaming = True

    def stream(self):
        model = self

        class Stream:
            seen = 0

            def accept(self, feats: torch.Tensor) -> torch.Tensor:
                first = (-self.seen) % SUBSAMPLE  # the next frame that starts an output frame
                picked = feats[first::SUBSAMPLE].repeat_interleave(SUBSAMPLE, 0)  # the model reads every 3rd
                self.seen += feats.shape[0]
                return model(picked[None], torch.tensor([picked.shape[0]]))[0][0]

            def finish(self) -> torch.Tensor:
                return torch.zeros(0, len(TOKENS))

            def state_numel(self) -> int:
                return 1

        return Stream()


def streaming_level_model() -> LoadedModel:
    loaded = level_model()
    return LoadedModel(StreamingLevelModel(loaded.model.thresholds), loaded.tokenizer, loaded.features, {})


@dataclass
class PlacedWord:
    word: str
    start_s: float
    end_s: float

    @property
    def mid_s(self) -> float:
        return (self.start_s + self.end_s) / 2


def level_audio(num_words: int, seed: int = 0, lead_s: float = 0.6) -> tuple[np.ndarray, list[PlacedWord]]:
    """Words A/B of 0.21-0.6 s at known offsets, gaps of 0.45-1.2 s with a short space burst in the middle.
    Every boundary falls on the 30 ms output-frame grid, so no analysis frame straddles two levels."""
    rng = np.random.default_rng(seed)
    parts, words, pos = [noise(int(lead_s / 0.03) * FRAME, LEVELS[""], rng)], [], int(lead_s / 0.03)
    for i in range(num_words):
        word = "AB"[rng.integers(2)]
        length = int(rng.integers(7, 21))
        parts.append(noise(length * FRAME, LEVELS[word], rng))
        words.append(PlacedWord(word, pos * 0.03, (pos + length) * 0.03))
        gap = int(rng.integers(15, 41))
        pos += length + gap
        if i < num_words - 1:
            parts += [noise((gap // 2 - 1) * FRAME, LEVELS[""], rng), noise(3 * FRAME, LEVELS[" "], rng),
                      noise((gap - gap // 2 - 2) * FRAME, LEVELS[""], rng)]
        else:
            parts.append(noise(gap * FRAME, LEVELS[""], rng))
    return np.concatenate(parts), words


def make_model_dir(path: Path, sample_rate: int = 8000, seed: int = 0, **model: object) -> Path:
    """A tiny randomly initialised model dir (fbank 40, 1 BiLSTM layer of 16; `model`: other ModelConfig
    settings, e.g. bidirectional=False for a streaming model): text is arbitrary."""
    torch.manual_seed(seed)
    tok = CharTokenizer(["<blank>", "<unk>", "<space>", "E", "N", "O", "S", "Y"])
    feats = FeatureConfig(sample_rate=sample_rate, num_mel_bins=40)
    model_cfg = ModelConfig(input_dim=40, vocab_size=len(tok), **{"num_layers": 1, "hidden_size": 16, **model})
    path.mkdir(parents=True, exist_ok=True)
    write_config(path, {"features": feats.to_dict(), "model": model_cfg.to_dict(), "units": tok.kind})
    tok.save(path / "tokens.txt")
    save_weights(CTCModel(model_cfg), path)
    return path
