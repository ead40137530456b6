"""`asr serve` as a process: the README's curl example on the yesno model, a huge declared upload refused before
it is read, the warning for a public address, and the command's errors."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr.cli import app
from asr.errors import ConfigError
from asr.serve.config import parse_model_specs
from asr.serve.server import public_warning
from helpers import corpus_path
from helpers.serve import running_server, wav_bytes

YESNO = "0_0_1_0_1_0_0_1.wav"


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_serve_a_model_and_post_a_file(yesno_model):
    if corpus_path("yesno") is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    wav = corpus_path("yesno") / "waves_yesno" / YESNO
    with running_server(str(yesno_model)) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        if shutil.which("curl"):  # the README's example, as written there
            out = subprocess.run(["curl", "-sS", "-F", f"file=@{wav}", f"{url}/v1/transcribe"], capture_output=True,
                                 text=True, timeout=60)
            body = json.loads(out.stdout)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            data, ctype = multipart(YESNO, wav.read_bytes())
            conn.request("POST", "/v1/transcribe", data, {"Content-Type": ctype})
            body = json.loads(conn.getresponse().read())
        assert body["text"] == "NO NO YES NO YES NO NO YES"
        assert [w["word"] for w in body["words"]] == body["text"].split() and body["words"][0]["end"] > 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/v1/transcribe")
        conn.putheader("Content-Type", "audio/wav")
        conn.putheader("Content-Length", str(2 ** 30))  # 1 GB declared, a few bytes sent
        conn.endheaders(b"RIFF")
        response = conn.getresponse()
        assert response.status == 413 and "larger than the limit" in json.loads(response.read())["error"]
        # a client that leaves while its long recording is transcribed: the work is dropped
        long = wav_bytes(np.tile(sf.read(wav, dtype="float32")[0], 100), 8000)  # 11 minutes
        def health() -> dict:
            return json.loads(urllib.request.urlopen(url + "/healthz").read())

        before = health()["transcribed"]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/transcribe", long, {"Content-Type": "audio/wav"})
        deadline = time.monotonic() + 30
        while not health()["queued"] and time.monotonic() < deadline:  # until it is being transcribed
            time.sleep(0.05)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        while (h := health())["transcribed"] == before and time.monotonic() < deadline + 60:
            time.sleep(0.1)
        assert h["cancelled"] == 1 and h["queued"] == 0


def test_public_address_warns():
    assert public_warning("127.0.0.1", None) is None
    assert "other machines can reach" in public_warning("0.0.0.0", None) and "no --api-key" in \
        public_warning("0.0.0.0", None)
    assert "no --api-key" not in public_warning("0.0.0.0", "k")


def test_model_specs():
    assert parse_model_specs("a", ["x=b", "y = c"]) == {"default": "a", "x": "b", "y": "c"}
    for bad in (["x"], ["=b"], ["x=b", "x=c"]):
        with pytest.raises(ConfigError):
            parse_model_specs(None, bad)


def test_command_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1 and result.stderr.strip() == "asr: error: no model to serve: give MODEL or " \
                                                              "--model NAME=PATH"
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1 and "not a model directory" in result.stderr
    result = CliRunner().invoke(app, ["serve", "--model", "x", "--device", "cpu"])
    assert result.exit_code == 1 and "expected NAME=PATH" in result.stderr
