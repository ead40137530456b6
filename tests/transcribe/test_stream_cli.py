"""`asr transcribe MODEL - --stream`: stdin read as it arrives (raw PCM or a WAV header), partials then finals
as JSON lines (or rewritten in place on a terminal), exit 0 at the end of the input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from asr.cli import app
from asr.transcribe import Transcriber
from asr.transcribe.live import PcmFormat, run_stream
from helpers.transcribe import RATE, level_audio, make_model_dir, streaming_level_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_pipe_prints_partials_then_finals_and_exits_0(tmp_path):
    model = make_model_dir(tmp_path / "m", sample_rate=8000, bidirectional=False)
    pcm = (0.1 * np.random.default_rng(0).standard_normal(8000 * 3) * 32767).astype("<i2").tobytes()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "asr.cli", "transcribe", str(model), "-", "--stream", "--rate",
                             "8000", "--device", "cpu", "--threads", "1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    for i in range(0, len(pcm), 3200):  # as a microphone would: a little at a time
        proc.stdin.write(pcm[i:i + 3200])
        proc.stdin.flush()
        time.sleep(0.01)
    proc.stdin.close()
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    events = lines(out)
    assert events and all(set(e) in ({"partial", "final"}, {"text", "words", "final"}) for e in events)
    assert events[0]["final"] is False and events[-1]["final"] is True
    assert all(w["start"] <= w["end"] <= 3.0 for e in events if e["final"] for w in e["words"])


def test_wav_header_on_stdin_and_refusals(tmp_path):
    model = make_model_dir(tmp_path / "m", sample_rate=8000, bidirectional=False)
    wav = io.BytesIO()
    sf.write(wav, 0.1 * np.random.default_rng(1).standard_normal(8000), 8000, format="WAV", subtype="PCM_16")
    runner = CliRunner()
    result = runner.invoke(app, ["transcribe", str(model), "-", "--stream", "--device", "cpu"], input=wav.getvalue())
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)[-1]["final"] is True
    (tmp_path / "a.wav").write_bytes(wav.getvalue())
    from_file = runner.invoke(app, ["transcribe", str(model), str(tmp_path / "a.wav"), "--stream", "--device", "cpu"])
    assert from_file.exit_code == 0 and from_file.stdout == result.stdout
    result = runner.invoke(app, ["transcribe", str(model), "-", "--stream", "--device", "cpu"], input=b"garbage!" * 9)
    assert result.exit_code == 1 and "not a WAV stream" in result.output and "--rate" in result.output
    offline = make_model_dir(tmp_path / "o", sample_rate=8000)
    result = runner.invoke(app, ["transcribe", str(offline), "-", "--stream", "--rate", "8000"], input=b"\0" * 800)
    assert result.exit_code == 1 and "needs a streaming model" in result.output


def test_terminal_rewrites_the_partial_line_in_place():
    audio, truth = level_audio(4, seed=2)
    pcm = io.BytesIO((audio * 32767).astype("<i2").tobytes())
    out = io.StringIO()
    run_stream(Transcriber(streaming_level_model()), pcm, PcmFormat(RATE), out, tty=True, endpoint_s=0.3)
    text = out.getvalue()
    assert "\r\033[K" in text
    finals = [line.rsplit("\r\033[K", 1)[-1] for line in text.split("\n")[:-1]]
    assert " ".join(finals).split() == [w.word for w in truth]
