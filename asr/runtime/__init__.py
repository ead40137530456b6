"""Running an exported model without PyTorch (`pip install lstm-asr[runtime]`: onnxruntime, NumPy, soundfile):
Kaldi features in NumPy, the ONNX graph of `asr export model.onnx` in onnxruntime, greedy and prefix beam
decoding, timed words. Nothing here imports torch (tests/runtime/test_no_torch.py)."""

from asr.runtime.transcriber import OnnxTranscriber

__all__ = ["OnnxTranscriber"]
