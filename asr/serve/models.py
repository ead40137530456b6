"""The models a server answers with, each loaded once; a Transcriber per (worker thread, model, decoder), so that
the decoders' state (the lm decoder's search) is never shared between threads while the network is."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from asr.decoding.config import DECODERS, DecoderConfig
from asr.errors import ConfigError
from asr.model.store import LoadedModel
from asr.transcribe import Transcriber


class UnknownModel(ConfigError):
    pass


@dataclass
class ServedModel:
    name: str
    path: str
    loaded: LoadedModel

    @property
    def streaming(self) -> bool:
        """Whether the model decodes as audio arrives (a unidirectional model and a Transcriber with `stream()`);
        else a stream is cut at pauses and each segment transcribed whole."""
        config = self.loaded.model.config
        flag = getattr(config, "streaming", None)  # ModelConfig.streaming where models have it
        streaming = bool(flag) if flag is not None else not getattr(config, "bidirectional", True)
        return streaming and callable(getattr(Transcriber, "stream", None))

    def info(self) -> dict:
        tok, feats = self.loaded.tokenizer, self.loaded.features
        return {"name": self.name, "units": tok.kind, "num_units": len(tok), "sample_rate": feats.sample_rate,
                "streaming": self.streaming, "stream_mode": "streaming" if self.streaming else "segments",
                "decoder": DecoderConfig().resolved(self.loaded).decoder}


class ModelRegistry:
    def __init__(self, models: dict[str, str], device: str = "cpu", batch_size: int = 8):
        """`batch_size`: windows per forward pass (the work queue's batch of requests fits in one pass)."""
        from asr.export.package import load_model

        self.device, self.batch_size = device, batch_size
        self.models = {name: ServedModel(name, path, load_model(path, device)) for name, path in models.items()}
        self.default = next(iter(self.models))
        self._local = threading.local()
        self._checked: dict[tuple[str, str | None], str | None] = {}

    def get(self, name: str | None) -> ServedModel:
        name = name or self.default
        if name not in self.models:
            raise UnknownModel(f"unknown model '{name}' (served: {', '.join(self.models)})")
        return self.models[name]

    def check(self, name: str | None, decoder: str | None) -> ServedModel:
        """The model, after checking that it can decode with `decoder` (ConfigError if not)."""
        model = self.get(name)
        if decoder is not None and decoder not in DECODERS:
            raise ConfigError(f"unknown decoder '{decoder}' (choose from {', '.join(DECODERS)})")
        key = (model.name, decoder)
        if key not in self._checked:
            try:
                self.transcriber(model.name, decoder)
                self._checked[key] = None
            except ConfigError as e:
                self._checked[key] = str(e)
        if self._checked[key]:
            raise ConfigError(self._checked[key])
        return model

    def transcriber(self, name: str, decoder: str | None) -> Transcriber:
        """This thread's Transcriber of model `name` with `decoder` (None: the model's own)."""
        cache = self._local.__dict__.setdefault("transcribers", {})
        key = (name, decoder)
        if key not in cache:
            cache[key] = Transcriber(self.get(name).loaded, self.device, decoder=decoder, batch_size=self.batch_size)
        return cache[key]
