"""The model card, `asr info MODEL`: what a model dir or `.asr` file is, in Markdown (the recipe writes it as
the model dir's README.md).

Units and their vocabulary, sample rate and features, the network and its parameters, the training data (from
config.yaml's data paths, where they still exist: utterances, hours when utt2dur is there, speakers), the
decoder `asr transcribe` will use (decoding.yaml: the recipe's choice), the %WER lines of the decode dirs it
records, and given the recipe's run log, the command, start time and git hash of its last run (the one writing
the card).
"""

from __future__ import annotations

import os
from pathlib import Path

from asr.data.info import data_dir_info
from asr.decoding.best import wer_line
from asr.decoding.config import DecoderConfig
from asr.decoding.lm import read_vocabulary
from asr.errors import AsrError, DataError
from asr.export.package import load_model
from asr.model.ensemble import combines_by_sequence
from asr.scoring.results import last_run


def model_card(model: str | os.PathLike, run_log: str | os.PathLike | None = None) -> str:
    """The card of a model dir or model file (see the module doc); `run_log`: the recipe's exp/log/run.log."""
    loaded = load_model(model)
    tok, feats = loaded.tokenizer, loaded.features
    decoding = loaded.config.get("decoding") or {}
    config = DecoderConfig().resolved(loaded)
    params = sum(p.numel() for p in loaded.model.parameters())
    lines = [f"# Model: {model}", "", f"- units: {tok.kind}, {len(tok)} tokens ({units_note(tok)})",
             f"- words: {vocabulary_note(tok, config)}",
             f"- audio: {feats.sample_rate} Hz; features: {feats.kind}, {feats_note(feats)}",
             f"- network: {network_line(loaded.model)}; {params / 1e6:.2f} M parameters",
             *data_lines(loaded.config.get("data") or {}),
             f"- decoder: {decoder_note(config)}{chosen_note(decoding)}"]
    if run_log is not None:
        lines.append(run_line(Path(run_log)))
    scored = [(d, wer_line(Path(model) / d)) for d in decoding.get("decode_dirs") or []]
    if any(line for _, line in scored):
        lines += ["", "## WER", "", *[f"    {line} {Path(d).name}" for d, line in scored if line]]
    usage = f"`asr transcribe {model} audio.wav` (options override the decoder; `--units` prints units)"
    lines += ["", f"Transcribe: {usage}", ""]
    return "\n".join(lines)


def chosen_note(decoding: dict) -> str:
    """How the recipe chose the decoder (decoding.yaml's name, chosen_on, wer)."""
    if decoding.get("chosen_on"):
        return f": the recipe's `{decoding['name']}`, the lowest WER on {decoding['chosen_on']} ({decoding['wer']})"
    return f": the recipe's `{decoding['name']}`" if decoding.get("name") else ""


def run_line(run_log: Path) -> str:
    """The recipe run that wrote the card: its command, start time and git hash, from the header of the log's last
    run (recipes/lib.sh start_run: `# <date> <command>`, `# git <hash>`)."""
    header, _, _ = last_run(run_log)
    if not header:
        raise DataError(f"{run_log}: no run header (`# <date> <command>`, as recipes/lib.sh start_run writes)")
    when, _, command = header[0][2:].partition(" ")
    git = next((line[len("# git "):] for line in header[1:] if line.startswith("# git ")), "unknown")
    return f"- recipe run: `{command}` (started {when}, git {git})"


def units_note(tok) -> str:
    return {"phone": "phones of a pronunciation lexicon", "bpe": "BPE pieces", "char": "characters",
            "word": "whole words"}.get(tok.kind, tok.kind)


def vocabulary_note(tok, config: DecoderConfig) -> str:
    if config.decoder == "lm":
        files = [Path(f).name for f in (config.lexicon, config.lm) if f]
        return f"{len(read_vocabulary(config.lexicon, config.lm))} (the decoder's {' and '.join(files)})"
    if tok.kind == "word":
        return f"{len(tok) - 3} (the units)"
    return "any the units spell"


def network_line(model) -> str:
    """The network; for an ensemble (asr.model.ensemble), how many models and what each is."""
    members = getattr(model, "members", None)
    if not members:
        return network_note(model.config)
    notes = [network_note(m.config) for m in members]
    how = "sequence-level combination" if combines_by_sequence(model) else "posterior average"
    if len(set(notes)) == 1:
        return f"{how} of {len(notes)} models, each {notes[0]}"
    return f"{how} of {len(notes)} models: {'; '.join(notes)}"


def network_note(net) -> str:
    kind = f"{'Bi' if net.bidirectional else ''}{net.cell.upper()}"
    note = f"{net.num_layers} x {kind} {net.hidden_size}, frames stacked {net.stack_frames}, subsampled {net.subsample}"
    if getattr(net, "streaming", False):  # docs/streaming.md
        note += (f"; streaming: latency-controlled, chunks of {net.chunk_size} + {net.right_context} frames"
                 if net.bidirectional else f"; streaming: causal, {net.right_context} frames of lookahead")
    return note


def feats_note(feats) -> str:
    bins = f"{feats.num_mel_bins} mel bins" if feats.kind == "fbank" else f"{feats.num_ceps} cepstra"
    return f"{bins}, {feats.frame_length_ms:g} ms windows every {feats.frame_shift_ms:g} ms"


def decoder_note(config: DecoderConfig) -> str:
    if config.decoder == "greedy":
        return "greedy (best path)"
    if config.decoder == "beam":
        return f"beam (CTC prefix search, beam {config.beam_size})"
    if config.speaker_graph:
        return (f"lm, isolated words (one word of the lexicon per recording), a speaker's recordings decided "
                f"together (speaker_graph {config.speaker_graph}, alpha {config.graph_alpha:g}, max distance "
                f"{config.graph_max_dist:g}, bins below {config.graph_band_hz:g} Hz)")
    lm = f"LM {Path(config.lm).name}, lm_weight {config.lm_weight:g}, " if config.lm else "no LM, "
    spell = (f", spelling LM {Path(config.spell_lm).name} (weight {config.spell_weight:g})"
             if config.spell_lm and config.spell_weight else "")
    return (f"lm (lexicon-constrained beam search, beam {config.beam_size}, {lm}word_score {config.word_score:g}"
            f"{spell})")


def data_lines(data: dict) -> list[str]:
    """One line per training/dev data dir of config.yaml that still exists."""
    lines = []
    for role in ("train", "dev"):
        if not data.get(role):
            continue
        try:
            info = data_dir_info(data[role])
        except (AsrError, OSError):
            lines.append(f"- {role} data: {data[role]} (not found here)")
            continue
        hours = f", {info.total_s / 3600:.2f} h" if info.total_s is not None else ""
        lines.append(f"- {role} data: {data[role]}: {info.utterances} utterances{hours}, {info.speakers} "
                     f"speaker{'s' if info.speakers != 1 else ''}")
    return lines
