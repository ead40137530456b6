"""`asr transcribe`: audio files, folders, lists or stdin to text."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from asr.cli.common import app, command
from asr.cli.decoder_options import decoder_options
from asr.errors import ConfigError


@command(app, "transcribe")
@decoder_options
def transcribe_cmd(
    model: str = typer.Argument(..., help="model dir (e.g. egs/yesno/exp/model) or model file from `asr export`"),
    audio: List[str] = typer.Argument(..., help="audio files (wav, flac, ogg, mp3, ...; any rate, any channels), "
                                                "folders, `-` (stdin), a Kaldi wav.scp (*.scp), a list (*.list)"),
    fmt: str = typer.Option("text", "--format", "-f", help="text, json, ctm, srt or vtt (several, comma-separated, "
                                                         "with --output-dir)"),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="write <name>.<ext> per recording"),
    decoder_config=None,
    chunk: float = typer.Option(30.0, "--chunk", help="long audio: window length in seconds"),
    overlap: float = typer.Option(5.0, "--overlap", help="long audio: overlap of neighbouring windows, seconds"),
    batch_size: int = typer.Option(4, "--batch-size", help="windows per forward pass"),
    threads: int = typer.Option(0, "--threads", help="CPU threads (0: torch's default)"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when present)"),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="folders: include sub-folders"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="default: on a terminal, for "
                                                                                   "many or long recordings"),
    word_times: str = typer.Option("speech", "--word-times", help="speech: CTC word times snapped to the speech "
                                                                   "in the audio; ctc: where tokens were emitted"),
    cmn_over: str = typer.Option("inputs", "--cmn-over", help="a cmn: speaker model: normalise by the mean of "
                                                               "all the inputs (one speaker, as Kaldi's per-speaker "
                                                               "CMVN) or of each recording alone (each); a "
                                                               "speaker_graph decoder decides the inputs' words "
                                                               "together, or each alone"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print each recording's real-time factor"),
    backend: str = typer.Option("pytorch", "--backend", help="pytorch, or onnx: a model.onnx (or .asr exported "
                                                             "--onnx) in onnxruntime, without PyTorch (audio "
                                                             "files; text or json; greedy or beam)"),
    stream: bool = typer.Option(False, "--stream", help="streaming model: read the input as it arrives, print "
                                                        "partial and final results as they come (docs/streaming.md)"),
    rate: Optional[int] = typer.Option(None, "--rate", help="--stream: raw PCM input at this rate (else a WAV header)"),
    sample_format: str = typer.Option("s16le", "--sample-format", help="--stream raw PCM: s16le, s32le or f32le"),
    channels: int = typer.Option(1, "--channels", help="--stream raw PCM: interleaved channels"),
    endpoint: float = typer.Option(0.6, "--endpoint", help="--stream: seconds of trailing blank that end a segment"),
):
    """Transcribe audio; by default print `<file>\t<text>` per recording. Exit 1 if any recording failed."""
    if backend == "onnx":
        from asr.runtime.command import run_onnx_transcribe

        if decoder_config.lm or decoder_config.lexicon or decoder_config.spell_lm or decoder_config.decoder == "lm":
            raise ConfigError("--backend onnx decodes greedy or beam, without a lexicon or LM")
        if run_onnx_transcribe(model, audio, fmt, decoder_config.decoder, decoder_config.beam_size, threads,
                               batch_size, verbose):
            raise typer.Exit(1)
        return
    if backend != "pytorch":
        raise ConfigError(f"--backend {backend}: choose pytorch or onnx")
    import torch

    from asr.device import check_device
    from asr.transcribe import Transcriber
    from asr.transcribe.chunking import ChunkConfig
    from asr.transcribe.command import parse_formats, run_transcribe
    from asr.transcribe.inputs import expand_inputs

    device = check_device(device)
    if threads > 0:
        torch.set_num_threads(threads)
    if stream:
        from asr.transcribe.live import stream_command

        transcriber = Transcriber.from_pretrained(model, device, decoder=decoder_config)
        return stream_command(transcriber, audio, rate, sample_format, channels, endpoint)
    notes: list[str] = []
    inputs = expand_inputs(audio, recursive, notes)
    for note in notes:
        typer.echo(f"asr: {note}", err=True)
    out = parse_formats(fmt, output_dir, len(inputs))
    transcriber = Transcriber.from_pretrained(model, device, decoder=decoder_config,
                                              chunk=ChunkConfig(chunk, overlap), batch_size=batch_size,
                                              word_times=word_times)
    if cmn_over not in ("inputs", "each"):
        raise ConfigError(f"--cmn-over {cmn_over}: choose inputs or each")
    if (transcriber.speaker_cmn or transcriber.decides_together) and cmn_over == "inputs":
        transcriber.set_speaker(i.spec for i in inputs if not i.error)
    if run_transcribe(transcriber, inputs, out, progress, verbose):
        raise typer.Exit(1)
