"""Transcription: audio in (files, folders, stdin, lists), words with times out.

    transcriber.py   the Transcriber API: features, model, decoder, word times, for one recording or many
    inputs.py        what `asr transcribe` accepts (files, folders, `-`, wav.scp, *.list) -> AudioInput
    audio_stream.py  long recordings read block by block
    chunking.py      overlapping windows and the stitching of their CTC paths
    decoders.py      greedy / prefix beam / lexicon + LM decoders that return timed token spans
    align.py         token spans from (T, V) log-prob tensors; words (asr.decoding.spans, shared with the runtime)
    snap.py          word times snapped to the speech in the audio
    formats.py       text, json, ctm, srt, vtt
    command.py       the `asr transcribe` command's loop and outputs
"""

from asr.transcribe.transcriber import Failure, Transcriber, Transcript

__all__ = ["Failure", "Transcriber", "Transcript"]
