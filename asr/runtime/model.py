"""An exported model for the runtime: the ONNX graph (a `.onnx` file from `asr export`, or the model.onnx inside a
`.asr` file exported with `--onnx`) in an onnxruntime session, and its metadata (asr.export.onnx): tokens, unit
kind, feature options, subsampling, the model's decoder."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from asr.errors import ConfigError
from asr.text.tokenizer import CharTokenizer, Tokenizer, WordTokenizer

ONNX_MEMBER = "model.onnx"  # asr.export.package.ONNX_MEMBER
WORD_START = "\u2581"


class PieceTokenizer(Tokenizer):
    """BPE pieces read back without sentencepiece: pieces joined, `▁` starting a word (asr.text.bpe.decode)."""

    kind = "bpe"

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.tokens[i] for i in ids if i > 2 or i == 1)
        return " ".join(text.replace(WORD_START, " ").split())


TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer, "bpe": PieceTokenizer}


@dataclass
class OnnxModel:
    session: object  # onnxruntime.InferenceSession
    tokenizer: Tokenizer
    features: dict  # asr.features.kaldi.FeatureConfig as a dict
    subsample: int
    decoding: dict
    quantized: str | None = None

    def __call__(self, feats: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """feats (N, T, D) float32, lengths (N,) -> log-probs (N, T', V), output lengths (N,)."""
        out, out_lengths = self.session.run(None, {"feats": np.ascontiguousarray(feats, np.float32),
                                                   "lengths": np.asarray(lengths, np.int64)})
        return out, out_lengths


def read_onnx_bytes(path: str | os.PathLike) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model (expected a .onnx file or a .asr file with model.onnx)")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if ONNX_MEMBER not in z.namelist():
                raise ConfigError(f"{path}: no {ONNX_MEMBER} inside: export it with `asr export MODEL {path.name} "
                                  f"--onnx`, or to a .onnx file")
            return z.read(ONNX_MEMBER)
    return path.read_bytes()


def load_onnx_model(path: str | os.PathLike, threads: int = 0) -> OnnxModel:
    """Load an exported model; `threads` intra-op threads (0: onnxruntime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the Loop of LSTMP graphs logs harmless warnings at load
    if threads > 0:
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    try:
        session = ort.InferenceSession(read_onnx_bytes(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for a file that is not a model
        raise ConfigError(f"{path}: not an ONNX model: {str(e).splitlines()[0]}") from None
    raw = session.get_modelmeta().custom_metadata_map
    try:
        meta = {k[len("asr."):]: json.loads(v) for k, v in raw.items() if k.startswith("asr.")}
        units = meta["units"]
        if units not in TOKENIZERS:
            raise ConfigError(f"{path}: units '{units}' need PyTorch's decoders (use --backend pytorch)")
        return OnnxModel(session, TOKENIZERS[units](meta["tokens"]), meta["features"], int(meta["model"]["subsample"]),
                         meta.get("decoding") or {}, meta.get("quantized"))
    except (KeyError, ValueError, TypeError) as e:
        raise ConfigError(f"{path}: not an ONNX model from `asr export` (metadata: {e})") from None
