"""lstm-asr: Kaldi-style speech recognition with a bidirectional LSTM-CTC encoder."""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: `from asr import Transcriber` without importing torch at package import
    if name == "Transcriber":
        from asr.transcribe import Transcriber

        return Transcriber
    raise AttributeError(name)
