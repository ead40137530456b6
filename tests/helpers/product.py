"""A recipe's final model as a product: what its best decode wrote for a few utterances, and what `asr transcribe`,
the Transcriber and the exported `.asr` file print for the same recordings with no decoder options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from asr.data.kaldi_files import read_table, write_table


def best_decode(recipe: Path, set_name: str, count: int) -> tuple[Path, dict[str, str]]:
    """(a wav.scp of the set's first `count` recordings, utt -> the words the decode dir of the model's chosen
    decoder wrote for them)."""
    model = (recipe / "exp" / "model").resolve()
    decoding = yaml.safe_load((model / "decoding.yaml").read_text())
    name = f"decode_{set_name}_{decoding['name']}"
    decode_dir = next(model / d for d in decoding["decode_dirs"] if Path(d).name == name)
    hyps = read_table(decode_dir / "text")
    wav_scp = read_table(recipe / "data" / set_name / "wav.scp")
    utts = sorted(wav_scp)[:count]
    scp = recipe / f"{set_name}_{count}.scp"
    write_table(scp, {u: wav_scp[u] for u in utts})
    return scp, {u: hyps[u] for u in utts}


def transcribe_cli(model: Path, scp: Path, cwd: Path) -> dict[str, str]:
    """utt -> words of `asr transcribe MODEL SCP` with no decoder options, run from `cwd`."""
    asr = Path(sys.executable).parent / "asr"
    proc = subprocess.run([str(asr), "transcribe", str(model), str(scp), "--threads", "1"], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("\t", 1) for line in proc.stdout.splitlines())


def transcribe_api(model: Path, scp: Path, cwd: Path) -> dict[str, str]:
    """utt -> words of Transcriber.from_pretrained(MODEL) with no decoder options (for a speaker-graph decoder,
    the recordings set as one speaker first, as `asr transcribe` does)."""
    import os

    from asr.transcribe import Transcriber
    from asr.transcribe.inputs import expand_inputs

    here = os.getcwd()
    os.chdir(cwd)
    try:
        transcriber = Transcriber.from_pretrained(str(model), "cpu")
        inputs = expand_inputs([str(scp)])
        if transcriber.decides_together:
            transcriber.set_speaker(i.spec for i in inputs if not i.error)
        return {t.audio: t.text for t in transcriber.transcribe_many(inputs)}
    finally:
        os.chdir(here)


def export(model: Path, out: Path) -> Path:
    """`asr export MODEL OUT` with no decoding options (the model dir's decoder travels with it)."""
    asr = Path(sys.executable).parent / "asr"
    proc = subprocess.run([str(asr), "export", str(model), str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out
