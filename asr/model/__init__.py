"""The acoustic model: stacked bidirectional recurrent encoder + CTC output layer."""

from asr.model.model import CTCModel, ModelConfig

__all__ = ["CTCModel", "ModelConfig"]
