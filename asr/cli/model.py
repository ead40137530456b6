"""The model as a product: `asr export`, `asr model set-decoder`, `asr info`, `asr inspect gates`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from asr.cli.common import app, command


@command(app, "export")
def export_cmd(
    model_dir: Path = typer.Argument(..., help="model dir or exp dir (config.yaml, tokens.txt, model.pt)"),
    out: Path = typer.Argument(..., help="the model file to write: model.asr, or model.onnx (the network as ONNX, "
                                         "tokens and feature options in its metadata, for --backend onnx)"),
    lexicon: Optional[Path] = typer.Option(None, "--lexicon", help="pack a lexicon for --decoder lm"),
    lm: Optional[Path] = typer.Option(None, "--lm", help="pack a language model (ARPA) for --decoder lm"),
    lm_params: Optional[Path] = typer.Option(None, "--lm-params", help="pack the LM weights of a dev search "
                                                                       "(lm_params.yaml)"),
    onnx: bool = typer.Option(False, "--onnx", help="model.asr: add the network as ONNX (model.onnx) for "
                                                    "--backend onnx"),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="int8: dynamic int8 weights (LSTM/GRU and "
                                                                    "linear layers)"),
):
    """Pack a model into one file (weights, config, units, CMVN, feature settings[, lexicon, LM, LM weights]);
    or, to a .onnx file, the network as ONNX with its tokens and feature settings."""
    if out.suffix == ".onnx":
        from asr.export.onnx import export_onnx

        path = export_onnx(model_dir, out, quantize)
    else:
        from asr.export.package import export_model

        path = export_model(model_dir, out, lexicon, lm, lm_params, onnx=onnx, quantize=quantize)
    typer.echo(f"{path}: {path.stat().st_size / 1e6:.1f} MB, from {model_dir}")


model_app = typer.Typer(help="A model dir's default decoder.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@command(model_app, "set-decoder")
def model_set_decoder_cmd(
    model_dir: Path = typer.Argument(..., help="the model dir (e.g. exp/model)"),
    decode_dirs: List[Path] = typer.Argument(..., help="scored decode dirs (decode.yaml, scores.txt) of its "
                                                       "decoders"),
    on: Optional[str] = typer.Option(None, "--on", help="the set (data dir name) to choose on: dev"),
):
    """Record in MODEL_DIR the decoder with the lowest WER on --on, with its files and weights (decoding.yaml)."""
    from asr.decoding.best import set_decoder

    chosen = set_decoder(model_dir, decode_dirs, on)
    how = f", chosen on {chosen['chosen_on']}: {chosen['wer']}" if chosen.get("chosen_on") else " (the only one)"
    typer.echo(f"{model_dir / 'decoding.yaml'}: {chosen['name']} ({chosen['decoder']}){how}")


@command(app, "info")
def info_cmd(
    model: Path = typer.Argument(..., help="model dir or `.asr` model file"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the card here (e.g. MODEL/README.md), not to stdout"),
    run_log: Optional[Path] = typer.Option(None, "--run-log", help="the recipe's exp/log/run.log: its last run's "
                                           "command and git hash go on the card"),
):
    """The model card: units, vocabulary, features, parameters, training data, its decoder and WER."""
    from asr.export.card import model_card

    card = model_card(model, run_log)
    if out is None:
        typer.echo(card, nl=False)
        return
    from asr.fileio import atomic_write_text

    atomic_write_text(out, card)
    typer.echo(f"{out}: the model card")


# ---- inspect --------------------------------------------------------------------------------------------

inspect_app = typer.Typer(help="Look inside a trained model.", no_args_is_help=True)
app.add_typer(inspect_app, name="inspect")


@command(inspect_app, "gates")
def inspect_gates_cmd(
    model_dir: Path = typer.Argument(..., help="model dir, e.g. egs/an4/exp/model"),
    audio: Path = typer.Argument(..., help="one audio file"),
    out: Path = typer.Option(Path("gates.png"), "--out", help="PNG to write."),
    layer: int = typer.Option(0, "--layer", help="Encoder layer, 0-based."),
):
    """Plot one utterance's spectrogram above a layer's forget, input and output gates and cell-state norm."""
    from asr.model.inspect import plot_gates
    from asr.transcribe import Transcriber

    transcriber = Transcriber.from_pretrained(model_dir, "cpu")
    feats = transcriber.speaker_normalised(transcriber.features(str(audio)))
    plot_gates(transcriber.loaded.model, feats, layer, out,
               frame_shift_s=transcriber.loaded.features.frame_shift_ms / 1000.0, title=f"{audio.name}: "
               f"{transcriber.loaded.model.config.cell} encoder, layer {layer}")
    typer.echo(f"wrote {out}")
