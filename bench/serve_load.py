"""Load on `asr serve` over loopback (docs/serving.md): bounded, stops by itself.

    python -m bench.serve_load [MODEL] [--clients 16] [--seconds 60] [--streams 4] [--out bench/serve_load.json]

Starts `asr serve MODEL` on 127.0.0.1 (a free port), then for `--seconds`: `--clients` HTTP clients each posting
AN4 recordings (raw body, format=json) one after another, `--streams` WebSocket clients each streaming a
recording at real time in 100 ms frames, and one fuzzer sending a bad request every `--fuzz-every` seconds (zero
bytes, a truncated WAV, text, a 1 GB declared Content-Length, a JSON content type, a form without a file, and
binary garbage, odd-length frames and audio before the sample rate on the WebSocket): each must be answered with a
4xx or a WebSocket close code, and anything else counts as a fuzz failure. Reports requests/s, latency
percentiles, errors (any non-200 of the load clients, any stream not ending in `done`), the server's peak RSS
(VmHWM) and whether /healthz still answers. Without MODEL: a randomly initialised model of AN4's size (3 x BiLSTM
192, 80 fbank, 16 kHz, char units), whose compute is a trained model's; its words mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def an4_size_model(path: Path) -> Path:
    """A randomly initialised model dir with AN4's features and network (egs/an4/conf)."""
    import torch

    from asr.features.kaldi import FeatureConfig
    from asr.model.model import CTCModel, ModelConfig
    from asr.model.store import save_weights, write_config
    from asr.text.tokenizer import CharTokenizer

    torch.manual_seed(0)
    tok = CharTokenizer(["<blank>", "<unk>", "<space>", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ'"])
    model_cfg = ModelConfig(input_dim=80, vocab_size=len(tok), num_layers=3, hidden_size=192, stack_frames=3,
                            subsample=3, cmn="utterance")
    path.mkdir(parents=True, exist_ok=True)
    write_config(path, {"features": FeatureConfig(sample_rate=16000, num_mel_bins=80).to_dict(),
                        "model": model_cfg.to_dict()})
    tok.save(path / "tokens.txt")
    save_weights(CTCModel(model_cfg), path)
    return path


def an4_recordings(count: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """`count` AN4 recordings (16 kHz samples), else generated audio of AN4's lengths (1-6 s)."""
    from asr.audio import RawFormat, load_audio

    root = Path(os.environ.get("ASR_CORPORA", REPO.parent / "shared" / "corpora")) / "an4" / "wav"
    files = sorted(root.rglob("*.raw"))
    rng = random.Random(seed)
    if files:
        return [(f.name, load_audio(str(f), 16000, raw=RawFormat(16000, endian="BIG")))
                for f in rng.sample(files, min(count, len(files)))]
    gen = np.random.default_rng(seed)
    return [(f"gen{i}.wav", (0.1 * gen.standard_normal(int(gen.uniform(1, 6) * 16000))).astype(np.float32))
            for i in range(count)]


def wav_bytes(x: np.ndarray, rate: int = 16000) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- a minimal HTTP/1.1 client (one connection per request): no client library between us and the server -----

async def http(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
               timeout: float = 120.0) -> tuple[int, bytes]:
    """(status, body) of one request; a Content-Length in `headers` may promise more than `body` holds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = {"Host": f"127.0.0.1:{port}", "Connection": "close", "Content-Length": str(len(body)),
                **(headers or {})}
        writer.write(f"{method} {path} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in head.items())
                     .encode() + b"\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    return status, raw.split(b"\r\n\r\n", 1)[-1]


async def load_client(port: int, recordings: list[bytes], until: float, latencies: list[float], errors: list[str],
                      seed: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        body = rng.choice(recordings)
        t0 = time.monotonic()
        try:
            status, data = await http(port, "POST", "/v1/transcribe?format=json", body,
                                      {"Content-Type": "audio/wav"})
        except (OSError, asyncio.TimeoutError) as e:
            errors.append(f"http: {e!r}")
            continue
        if status == 200 and "text" in json.loads(data):
            latencies.append(time.monotonic() - t0)
        else:
            errors.append(f"http {status}: {data[:200]!r}")


async def stream_client(port: int, recordings: list[np.ndarray], until: float, latencies: list[float],
                        errors: list[str], seed: int) -> int:
    """Streams recordings at real time; latency: from the last frame to `done`."""
    import websockets

    rng, streams = random.Random(seed), 0
    while time.monotonic() < until:
        x = (rng.choice(recordings) * 32767).astype("<i2")
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/v1/stream?sample_rate=16000") as ws:
                ready = json.loads(await ws.recv())
                assert ready["type"] == "ready", ready
                for i in range(0, len(x), 1600):
                    await ws.send(x[i:i + 1600].tobytes())
                    await asyncio.sleep(0.1)
                t0 = time.monotonic()
                await ws.send(json.dumps({"type": "end"}))
                while (event := json.loads(await asyncio.wait_for(ws.recv(), 120)))["type"] != "done":
                    if event["type"] == "error":
                        raise RuntimeError(event["error"])
                latencies.append(time.monotonic() - t0)
                streams += 1
        except Exception as e:  # noqa: BLE001 - every failure of a stream is a counted error
            errors.append(f"stream: {e!r}")
    return streams


FUZZ_HTTP = {
    "zero bytes": (b"", {"Content-Type": "audio/wav"}),
    "truncated wav": (None, {"Content-Type": "audio/wav"}),  # filled in with a real recording's head
    "not audio": (b"this is not audio\n" * 100, {"Content-Type": "application/octet-stream"}),
    "1 GB declared": (b"RIFF1234", {"Content-Type": "audio/wav", "Content-Length": str(2 ** 30)}),  # 8 bytes sent
    "wrong content type": (b'{"audio": "/etc/passwd"}', {"Content-Type": "application/json"}),
    "form without file": (b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n",
                          {"Content-Type": "multipart/form-data; boundary=b"}),
    "garbage form": (os.urandom(4096), {"Content-Type": "multipart/form-data; boundary=b"}),
}
FUZZ_WS = {
    "ws garbage (odd length)": ("?sample_rate=16000", os.urandom(4097)),
    "ws f32 garbage": ("?sample_rate=16000&encoding=f32le", b"\xff\xff\xff\x7f" * 1024),
    "ws audio before the rate": ("", os.urandom(3200)),
    "ws text garbage": ("?sample_rate=16000", "\x00not json"),
}


async def fuzzer(port: int, truncated: bytes, until: float, every_s: float, results: dict) -> None:
    import websockets

    cases = [("http", k) for k in FUZZ_HTTP] + [("ws", k) for k in FUZZ_WS]
    i = 0
    while time.monotonic() < until:
        kind, name = cases[i % len(cases)]
        i += 1
        answer: str
        ok = False
        try:
            if kind == "http":
                body, headers = FUZZ_HTTP[name]
                status, _ = await http(port, "POST", "/v1/transcribe", truncated if body is None else body, headers,
                                       timeout=30)
                answer, ok = str(status), 400 <= status < 500
            else:
                query, payload = FUZZ_WS[name]
                async with websockets.connect(f"ws://127.0.0.1:{port}/v1/stream{query}") as ws:
                    await ws.recv()
                    await ws.send(payload)
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), 30)
                    except websockets.ConnectionClosed as closed:
                        code = closed.rcvd.code if closed.rcvd else None
                answer, ok = f"close {code}", code in (1003, 1008, 1009)
        except Exception as e:  # noqa: BLE001 - an exception is a fuzz failure, recorded
            answer = repr(e)
        entry = results.setdefault(name, {"sent": 0, "ok": 0, "answers": []})
        entry["sent"] += 1
        entry["ok"] += ok
        if answer not in entry["answers"]:
            entry["answers"].append(answer)
        await asyncio.sleep(every_s)


def percentile(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


async def run_load(port: int, pid: int, args) -> dict:
    recordings = an4_recordings(args.recordings)
    bodies = [wav_bytes(x) for _, x in recordings]
    until = time.monotonic() + args.seconds
    http_lat, stream_lat, errors, fuzz = [], [], [], {}
    t0 = time.monotonic()
    tasks = [load_client(port, bodies, until, http_lat, errors, seed=i) for i in range(args.clients)]
    tasks += [stream_client(port, [x for _, x in recordings], until, stream_lat, errors, seed=100 + i)
              for i in range(args.streams)]
    tasks.append(fuzzer(port, bodies[0][:len(bodies[0]) // 3], until, args.fuzz_every, fuzz))
    done = await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    status, health = await http(port, "GET", "/healthz")
    audio_s = sum(len(x) for _, x in recordings) / 16000 / len(recordings)
    return {
        "clients": args.clients, "streams": args.streams, "seconds": args.seconds, "wall_s": round(wall, 1),
        "requests": len(http_lat), "requests_per_s": round(len(http_lat) / wall, 2),
        "mean_audio_s": round(audio_s, 2), "audio_x_realtime": round(len(http_lat) * audio_s / wall, 1),
        "latency_s": {q: round(percentile(http_lat, q), 3) for q in (50, 95, 99)},
        "streams_done": sum(d for d in done if isinstance(d, int)),
        "stream_final_latency_s": {q: round(percentile(stream_lat, q), 3) for q in (50, 95, 99)},
        "errors": len(errors), "error_samples": errors[:5],
        "fuzz": fuzz, "fuzz_failures": sum(v["sent"] - v["ok"] for v in fuzz.values()),
        "server_peak_rss_mb": round(peak_rss_mb(pid), 1),
        "mean_batch": round(json.loads(health)["transcribed"] / max(1, json.loads(health)["batches"]), 2)
        if status == 200 else None,
        "healthz_after": status, "healthz": json.loads(health) if status == 200 else None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", help="model dir or .asr file (default: a random model of AN4's size)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--recordings", type=int, default=64, help="AN4 recordings drawn at random")
    p.add_argument("--fuzz-every", type=float, default=0.5, help="seconds between bad requests")
    p.add_argument("--serve-args", default="", help="more options for `asr serve` (e.g. '--workers 2')")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = args.model or str(an4_size_model(Path(tmp) / "model"))
        port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [str(Path(sys.executable).parent / "asr"), "serve", model, "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--device", "cpu", "--max-queue", "64", *args.serve_args.split()]
        server = subprocess.Popen(cmd, env=env)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("asr serve did not start")
                    time.sleep(0.2)
            result = asyncio.run(run_load(port, server.pid, args))
        finally:
            server.terminate()
            server.wait(30)
    result["command"] = "python -m bench.serve_load " + " ".join(argv if argv is not None else sys.argv[1:])
    result["server"] = " ".join(cmd[1:]).replace(str(port), "PORT")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(f"{result['requests_per_s']} requests/s, latency p50/p95/p99 {result['latency_s'][50]}/"
          f"{result['latency_s'][95]}/{result['latency_s'][99]} s, {result['streams_done']} streams, errors "
          f"{result['errors']}, fuzz failures {result['fuzz_failures']}, peak RSS {result['server_peak_rss_mb']} MB, "
          f"/healthz after: {result['healthz_after']}", file=sys.stderr)
    return 0 if result["errors"] == 0 and result["fuzz_failures"] == 0 and result["healthz_after"] == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
