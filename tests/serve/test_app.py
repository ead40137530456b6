"""The API through Starlette's test client: every route, every format, every error code; on a tiny random model
(errors, limits) and on the trained yesno model (the words)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from asr.serve import ServeConfig, create_app
from helpers import corpus_path
from helpers.serve import wav_bytes
from helpers.transcribe import make_model_dir

RATE = 8000
YESNO = "0_0_1_0_1_0_0_1.wav"


def noise_wav(seconds: float = 1.0, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    return wav_bytes(0.1 * np.random.default_rng(0).standard_normal(int(seconds * rate)), rate, subtype)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("tiny") / "model")


def client(models: dict, **options) -> TestClient:
    return TestClient(create_app(ServeConfig(models={k: str(v) for k, v in models.items()}, workers=1, **options)))


@pytest.fixture(scope="module")
def tiny_client(tiny):
    with client({"default": tiny, "other": tiny}, max_upload_mb=0.5, max_duration_s=20.0) as c:
        yield c


@pytest.fixture(scope="module")
def yesno(yesno_model):
    if corpus_path("yesno") is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    wav = corpus_path("yesno") / "waves_yesno" / YESNO
    with client({"default": yesno_model}) as c:
        yield c, wav.read_bytes()


def test_healthz_and_models(tiny_client):
    assert tiny_client.get("/healthz").json()["status"] == "ok"
    models = tiny_client.get("/v1/models").json()
    assert models["default"] == "default"
    assert [m["name"] for m in models["models"]] == ["default", "other"]
    assert models["models"][0] == {"name": "default", "units": "char", "num_units": 8, "sample_rate": RATE,
                                   "streaming": False, "stream_mode": "segments", "decoder": "greedy"}


def test_page_is_one_self_contained_html(tiny_client):
    r = tiny_client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "/v1/stream" in html and "/v1/transcribe" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere


def test_yesno_words_with_times_in_json(yesno):
    c, wav = yesno
    r = c.post("/v1/transcribe", files={"file": (YESNO, wav, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["audio"] == YESNO and body["text"] == "NO NO YES NO YES NO NO YES"
    assert body["duration"] == pytest.approx(6.76, abs=0.01) and body["rtf"] > 0
    starts = [w["start"] for w in body["words"]]
    assert starts == sorted(starts) and all(0 < w["confidence"] <= 1 and w["end"] > w["start"]
                                            for w in body["words"])
    assert "words" not in c.post("/v1/transcribe?word_times=false", content=wav).json()


@pytest.mark.parametrize("fmt,expect", [("text", "NO NO YES NO YES NO NO YES\n"),
                                        ("srt", "1\n00:00:00,"), ("vtt", "WEBVTT\n\n00:00:00."),
                                        ("ctm", "upload 1 0.")])
def test_every_format_of_a_raw_body(yesno, fmt, expect):
    c, wav = yesno
    r = c.post(f"/v1/transcribe?format={fmt}&decoder=greedy", content=wav, headers={"content-type": "audio/wav"})
    assert r.status_code == 200 and r.text.startswith(expect)
    if fmt in ("srt", "vtt"):
        assert "NO NO YES NO YES NO NO YES" in r.text
    if fmt == "ctm":
        assert [line.split()[4] for line in r.text.splitlines()] == "NO NO YES NO YES NO NO YES".split()


def test_format_renders_a_transcript_for_the_downloads(yesno):
    c, wav = yesno
    body = c.post("/v1/transcribe", content=wav).json()
    for fmt in ("srt", "vtt", "ctm", "text"):
        direct = c.post(f"/v1/transcribe?format={fmt}", content=wav).text
        assert c.post(f"/v1/format?format={fmt}", json={**body, "audio": "upload"}).text == direct
    assert c.post("/v1/format?format=json", json=body).json()["text"] == body["text"]
    assert c.post("/v1/format?format=srt", json={"words": [{"word": "A"}]}).status_code == 400
    assert c.post("/v1/format?format=srt", content=b"{").status_code == 400
    assert c.post("/v1/format?format=doc", json=body).status_code == 400


def test_beam_decoder_gives_the_same_words(yesno):
    c, wav = yesno
    assert c.post("/v1/transcribe?format=text&decoder=beam", content=wav).text == "NO NO YES NO YES NO NO YES\n"


def test_stream_gives_final_words_of_the_recording(yesno):
    c, wav = yesno
    x, rate = sf.read(corpus_path("yesno") / "waves_yesno" / YESNO, dtype="int16")
    with c.websocket_connect(f"/v1/stream?sample_rate={rate}") as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["mode"] == "segments"
        for i in range(0, len(x), 800):  # 100 ms frames
            ws.send_bytes(x[i:i + 800].tobytes())
        ws.send_json({"type": "end"})
        events = []
        while not events or events[-1]["type"] != "done":
            events.append(ws.receive_json())
    finals = [e for e in events if e["type"] == "final"]
    assert " ".join(e["text"] for e in finals) == "NO NO YES NO YES NO NO YES"
    assert events[-1]["duration"] == pytest.approx(len(x) / rate, abs=0.01)


@pytest.mark.parametrize("query,body,headers,status,says", [
    ("format=xml", b"x", {}, 400, "format 'xml'"),
    ("word_times=maybe", b"x", {}, 400, "word_times"),
    ("decoder=lm", b"x", {}, 400, "--decoder lm needs"),
    ("decoder=nope", b"x", {}, 400, "unknown decoder"),
    ("model=nope", b"x", {}, 404, "unknown model 'nope'"),
    ("", b"", {}, 422, "empty upload"),
    ("", b"RIFF\x00\x00garbage" * 50, {}, 415, "cannot decode audio"),
    ("", noise_wav()[:3000], {}, 422, "truncated file"),
    ("", b'{"a": 1}', {"content-type": "application/json"}, 415, "content type 'application/json' is not audio"),
    ("", noise_wav(19.0, subtype="FLOAT"), {}, 413, "larger than the limit of 524288 bytes"),
    ("", b"--x\r\n", {"content-type": "multipart/form-data"}, 400, "malformed multipart form"),
])
def test_error_codes(tiny_client, query, body, headers, status, says):
    r = tiny_client.post(f"/v1/transcribe?{query}", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert says in r.json()["error"] and r.json()["status"] == status


def test_duration_limit_and_form_without_file(tiny_client):
    long = wav_bytes(np.zeros(21 * 1000, np.float32), 1000)  # 21 s at 1 kHz: small, but long
    r = tiny_client.post("/v1/transcribe", files={"file": ("long.wav", long)})
    assert r.status_code == 413 and "longer than the limit of 20 s" in r.json()["error"]
    r = tiny_client.post("/v1/transcribe", data={"note": "no file"}, files={"other": ("", b"")})
    assert r.status_code in (400, 422)
    r = tiny_client.post("/v1/transcribe", data={"note": "no file"})
    assert r.status_code == 415  # a url-encoded form is not audio


def test_client_paths_are_never_opened(tiny_client, tmp_path):
    """A file name with a path in it names the result; the server reads only the bytes sent."""
    secret = tmp_path / "secret.wav"
    secret.write_bytes(noise_wav())
    r = tiny_client.post("/v1/transcribe", files={"file": (str(secret), b"")})
    assert r.status_code == 422 and str(tmp_path) not in r.text
    r = tiny_client.post(f"/v1/transcribe?filename={secret}", content=noise_wav())
    assert r.status_code == 200 and r.json()["audio"] == "secret.wav"


def idle(queue, timeout_s: float = 10.0) -> bool:
    """Wait until no job is admitted."""
    for _ in range(int(timeout_s / 0.05)):
        if queue.admitted == 0:
            return True
        threading.Event().wait(0.05)
    return False


def test_busy_queue_answers_503_with_retry_after(tiny_client):
    queue = tiny_client.app.state.server.queue
    idle(queue)  # the last request's worker may still be counting it out
    saved, queue.admitted = queue.admitted, queue.max_queue
    try:
        r = tiny_client.post("/v1/transcribe", content=noise_wav())
    finally:
        queue.admitted = saved
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["error"]


def test_timeout_answers_504_and_drops_the_work(tiny):
    with client({"default": tiny}, timeout_s=0.001) as c:
        r = c.post("/v1/transcribe", content=noise_wav(120.0))
        assert r.status_code == 504 and "longer than the limit" in r.json()["error"]
        assert idle(c.app.state.server.queue)  # the cancelled job left the queue


def test_api_key_on_every_route_but_healthz(tiny):
    with client({"default": tiny}, api_key="s3cret") as c:
        assert c.get("/healthz").status_code == 200
        for path in ("/", "/v1/models"):
            assert c.get(path).status_code == 401
        assert c.post("/v1/transcribe", content=noise_wav()).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/?key=s3cret").status_code == 200
        assert c.get("/v1/models?key=wrong").status_code == 401
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect("/v1/stream?sample_rate=8000") as ws:
                ws.receive_json()
        assert e.value.code == 1008
        with c.websocket_connect("/v1/stream?sample_rate=8000&key=s3cret") as ws:
            assert ws.receive_json()["type"] == "ready"


def close_code(ws) -> int:
    """The close code after the server's error event."""
    event = ws.receive_json()
    assert event["type"] == "error" and event["error"]
    with pytest.raises(WebSocketDisconnect) as e:
        ws.receive_json()
    return e.value.code


@pytest.mark.parametrize("query,first,code", [
    ("", b"\x00\x01" * 100, 1008),  # audio before the sample rate
    ("sample_rate=8000", b"\x00\x01\x02", 1003),  # not whole 16-bit samples
    ("sample_rate=8000&encoding=f32le", np.full(8, np.nan, np.float32).tobytes(), 1003),
    ("sample_rate=8000&encoding=f32le", b"\xff\xff\xff\x7f" * 64, 1003),  # garbage: NaN as float
    ("sample_rate=8000", "not json", 1003),
    ("sample_rate=8000", '{"sample_rate": 5}', 1008),
])
def test_stream_refuses_what_is_not_pcm(tiny_client, query, first, code):
    with tiny_client.websocket_connect(f"/v1/stream?{query}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_bytes(first) if isinstance(first, bytes) else ws.send_text(first)
        assert close_code(ws) == code


def test_stream_parameters_and_limits(tiny):
    with client({"default": tiny}, max_streams=1, max_duration_s=1.0, idle_s=0.3) as c:
        for query in ("sample_rate=12", "encoding=mp3", "model=nope"):
            with c.websocket_connect(f"/v1/stream?{query}") as ws:
                assert close_code(ws) == 1008
        with c.websocket_connect("/v1/stream") as ws:
            assert ws.receive_json()["type"] == "ready"
            with c.websocket_connect("/v1/stream?sample_rate=8000") as second:
                assert close_code(second) == 1013  # one stream at a time
            ws.send_json({"sample_rate": 8000})
            ws.send_bytes(np.zeros(16000, np.int16).tobytes())  # 2 s: past the 1 s limit
            assert close_code(ws) == 1009
        with c.websocket_connect("/v1/stream?sample_rate=8000") as ws:
            assert ws.receive_json()["type"] == "ready"
            assert close_code(ws) == 1008  # a silent client is let go
        assert c.get("/healthz").json()["streams"] == 0


def test_a_streaming_model_runs_through_its_own_session(tmp_path, monkeypatch):
    """A unidirectional model whose Transcriber has `stream()` (the streaming issue's API) is served in mode
    `streaming`: its session's partial and final words come out as events."""
    import torch

    from asr.model.model import CTCModel, ModelConfig
    from asr.model.store import save_weights, write_config
    from asr.transcribe import Transcriber
    from asr.transcribe.align import Word

    d = make_model_dir(tmp_path / "uni")
    cfg = ModelConfig(input_dim=40, vocab_size=8, num_layers=1, hidden_size=16, bidirectional=False)
    write_config(d, {"features": {"sample_rate": RATE, "num_mel_bins": 40}, "model": cfg.to_dict()})
    torch.manual_seed(0)
    save_weights(CTCModel(cfg), d)

    class Session:
        def __init__(self):
            self.seconds = 0.0

        def accept(self, samples, rate):
            self.seconds += len(samples) / rate
            return [Word("YES", 0.0, self.seconds, 0.8)]

        def finish(self):
            return [Word("YES", 0.0, self.seconds, 0.8), Word("NO", self.seconds, self.seconds + 0.1, 0.6)]

    monkeypatch.setattr(Transcriber, "stream", lambda self: Session(), raising=False)
    with client({"uni": d}) as c:
        assert c.get("/v1/models").json()["models"][0]["stream_mode"] == "streaming"
        with c.websocket_connect("/v1/stream?sample_rate=8000") as ws:
            assert ws.receive_json()["mode"] == "streaming"
            ws.send_bytes(np.zeros(800, np.int16).tobytes())
            partial = ws.receive_json()
            assert partial["type"] == "partial" and partial["words"][0]["end"] == 0.1
            ws.send_json({"type": "end"})
            final = ws.receive_json()
            assert final["type"] == "final" and final["text"] == "YES NO"
            assert ws.receive_json()["type"] == "done"
