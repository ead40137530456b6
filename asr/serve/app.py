"""The routes of `asr serve` (Starlette):

    GET  /                 the web page (page/index.html: no build step, nothing from elsewhere)
    GET  /healthz          liveness, without the API key
    GET  /v1/models        the models: name, units, sample rate, streaming or not
    POST /v1/format        a JSON transcript (audio, duration, words) -> format=text|srt|vtt|ctm|json, for the
                           page's downloads (the same formats as `asr transcribe`)
    POST /v1/transcribe    audio (multipart field `file`, or the raw body) -> format=json|text|srt|vtt|ctm;
                           decoder=greedy|beam|lm; model=NAME; word_times=false drops the words from JSON
    WS   /v1/stream        PCM frames in (`sample_rate` and `encoding`=s16le|f32le in the URL or a first JSON
                           message; {"type": "end"} to finish), JSON events out (asr.serve.sessions)

Errors are JSON {"error": message, "status": code}: 400 bad parameters or form, 401 API key, 404 unknown model,
408 an upload stalled, 413 too large or long, 415 not audio, 422 audio that decodes to nothing usable, 503 busy (Retry-After), 504 past
the time limit. WebSocket close codes: 1000 done, 1003 data that is not PCM, 1008 a missing sample rate, key or
unknown model or a silent client, 1009 past the duration limit, 1011 a server fault, 1013 too many streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import shutil
import tempfile
import threading
from importlib import resources

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from asr.errors import AsrError, AudioError, ConfigError
from asr.serve.config import ServeConfig
from asr.serve.models import ModelRegistry, UnknownModel
from asr.serve.sessions import ModelSession, SegmentSession
from asr.serve.uploads import HttpError, read_audio_bytes, read_body, safe_name, save_upload
from asr.serve.work import Busy, Job, WorkQueue
from asr.transcribe.align import Word
from asr.transcribe.formats import FORMATS, render
from asr.transcribe.transcriber import Failure, Transcript

log = logging.getLogger("asr.serve")
MEDIA_TYPES = {"json": "application/json", "text": "text/plain; charset=utf-8", "ctm": "text/plain; charset=utf-8",
               "srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}
ENCODINGS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
OPEN_PATHS = ("/healthz",)
FORMAT_LIMIT = 4 * 1024 * 1024  # bytes of a transcript sent to /v1/format


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


class ApiKey:
    """ASGI middleware: every route but /healthz needs the key (Authorization: Bearer, X-API-Key, or ?key=)."""

    def __init__(self, app, key: str | None):
        self.app, self.key = app, key

    async def __call__(self, scope, receive, send):
        if self.key is None or scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given:
            from urllib.parse import parse_qs

            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key") or [""])[0]
        if hmac.compare_digest(given.encode(), self.key.encode()):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            return await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong API key"})
        await error(401, "missing or wrong API key (Authorization: Bearer KEY, X-API-Key, or ?key=)",
                    {"WWW-Authenticate": "Bearer"})(scope, receive, send)


class Server:
    """The state behind the routes: models, the work queue, the live streams."""

    def __init__(self, config: ServeConfig, registry: ModelRegistry | None = None):
        self.config = config.check()
        self.registry = registry or ModelRegistry(config.models, config.device, max(4, config.max_batch))
        self.queue = WorkQueue(self.registry, config.workers, config.max_queue, config.max_batch, config.threads)
        self.tmp = tempfile.mkdtemp(prefix="asr-serve-")
        self.streams = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.queue.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP ---------------------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        html = resources.files("asr.serve").joinpath("page/index.html").read_bytes()
        return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    async def healthz(self, request: Request) -> Response:
        q = self.queue
        return JSONResponse({"status": "ok", "models": list(self.registry.models), "queued": q.admitted,
                             "streams": self.streams, "transcribed": q.done, "batches": q.batches,
                             "cancelled": q.cancelled})

    async def models(self, request: Request) -> Response:
        return JSONResponse({"default": self.registry.default,
                             "models": [m.info() for m in self.registry.models.values()]})

    async def transcribe(self, request: Request) -> Response:
        q = request.query_params
        fmt = q.get("format", "json")
        if fmt not in FORMATS:
            raise HttpError(400, f"format '{fmt}': choose from {', '.join(FORMATS)}")
        word_times = q.get("word_times", "true").lower()
        if word_times not in ("true", "false", "1", "0"):
            raise HttpError(400, f"word_times '{word_times}': true or false")
        decoder = q.get("decoder") or None
        model = self.registry.check(q.get("model"), decoder)
        name, data = await read_audio_bytes(request, self.config.max_upload_bytes, self.config.idle_s)
        upload = await run_in_threadpool(save_upload, name, data, self.tmp, self.config.max_duration_s)
        try:
            job = Job(model.name, decoder, upload.name, upload.path)
            result = await self.wait(job, request)
        finally:
            upload.remove()
        if isinstance(result, Failure):
            raise HttpError(422, result.error)
        if fmt == "json":
            body = {**result.to_dict(), "rtf": round(result.rtf, 4), "model": model.name}
            if word_times in ("false", "0"):
                body.pop("words")
            return JSONResponse(body)
        text = result.text + "\n" if fmt == "text" else render(result, fmt, to_file=True)
        return Response(text, media_type=MEDIA_TYPES[fmt])

    async def format(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in FORMATS:
            raise HttpError(400, f"format '{fmt}': choose from {', '.join(FORMATS)}")
        try:
            body = json.loads(await read_body(request, FORMAT_LIMIT))
            words = [Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["confidence"]))
                     for w in body.get("words", [])]
            transcript = Transcript(safe_name(str(body.get("audio", "audio"))), words, float(body.get("duration", 0)))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise HttpError(400, f"not a transcript (audio, duration, words: [{{word, start, end, confidence}}]): "
                                 f"{e}") from None
        text = transcript.text + "\n" if fmt == "text" else render(transcript, fmt, to_file=True)
        return Response(text, media_type=MEDIA_TYPES[fmt])

    async def wait(self, job: Job, request: Request | None = None):
        """The job's result; its work is dropped when the client leaves or the time limit passes."""
        future = asyncio.wrap_future(self.queue.submit(job))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout_s
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=min(0.25, max(0.0, deadline - loop.time())))
                if done:
                    return future.result()
                if request is not None and await request.is_disconnected():
                    raise HttpError(499, "client closed the request")
                if loop.time() >= deadline:
                    raise HttpError(504, f"transcription took longer than the limit of {self.config.timeout_s:g} s")
        finally:
            if not future.done():
                job.cancel.set()

    # ---- WebSocket ----------------------------------------------------------------------------------------

    async def stream(self, ws: WebSocket) -> None:
        with self._lock:
            full = self.streams >= self.config.max_streams
            if not full:
                self.streams += 1
        if full:
            await ws.accept()
            await ws.send_json({"type": "error", "error": f"too many streams (limit {self.config.max_streams})"})
            await ws.close(1013, "try again later")
            return
        cancel = threading.Event()
        try:
            await self._stream(ws, cancel)
        except WebSocketDisconnect:
            pass
        except Exception as e:  # noqa: BLE001 - a fault ends this stream, never the server
            log.exception("stream failed")
            with contextlib.suppress(Exception):
                await ws.send_json({"type": "error", "error": f"server error: {e}"})
                await ws.close(1011, "server error")
        finally:
            cancel.set()  # a client that left frees its work
            with self._lock:
                self.streams -= 1

    async def _stream(self, ws: WebSocket, cancel: threading.Event) -> None:
        q = ws.query_params
        await ws.accept()

        async def fail(code: int, message: str) -> None:
            await ws.send_json({"type": "error", "error": message})
            await ws.close(code, message[:120])

        decoder = q.get("decoder") or None
        try:
            model = self.registry.check(q.get("model"), decoder)
            rate = _positive_int(q.get("sample_rate"), "sample_rate")
        except (AsrError, HttpError) as e:
            return await fail(1008, str(e))
        encoding = q.get("encoding", "s16le")
        if encoding not in ENCODINGS:
            return await fail(1008, f"encoding '{encoding}': choose from {', '.join(ENCODINGS)}")
        session = self.session(model, decoder, cancel)
        await ws.send_json({"type": "ready", "model": model.name, "mode": session.mode,
                            "model_sample_rate": model.loaded.features.sample_rate, "sample_rate": rate,
                            "encoding": encoding})
        received = 0
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), self.config.idle_s)
            except asyncio.TimeoutError:
                return await fail(1008, f"nothing received for {self.config.idle_s:g} s")
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                try:
                    control = json.loads(message["text"])
                    if not isinstance(control, dict):
                        raise ValueError("not an object")
                except ValueError:
                    return await fail(1003, "a text message must be a JSON object ({\"sample_rate\": N} or "
                                            "{\"type\": \"end\"})")
                if control.get("type") == "end":
                    break
                try:
                    rate = _positive_int(control.get("sample_rate", rate), "sample_rate")
                except HttpError as e:
                    return await fail(1008, e.message)
                encoding = control.get("encoding", encoding)
                if encoding not in ENCODINGS:
                    return await fail(1008, f"encoding '{encoding}': choose from {', '.join(ENCODINGS)}")
                continue
            data = message.get("bytes") or b""
            if rate is None:
                return await fail(1008, "audio before the sample rate: give ?sample_rate=N or send "
                                        "{\"sample_rate\": N} first")
            dtype = ENCODINGS[encoding]
            if len(data) % dtype.itemsize:
                return await fail(1003, f"a frame of {len(data)} bytes is not whole {encoding} samples")
            samples = np.frombuffer(data, dtype)
            samples = samples.astype(np.float32) / 32768 if encoding == "s16le" else samples.astype(np.float32)
            if not np.isfinite(samples).all() or np.abs(samples).max(initial=0) > 64:
                return await fail(1003, "the frame is not f32le audio (non-finite or huge samples)")
            received += len(samples)
            if received / rate > self.config.max_duration_s:
                return await fail(1009, f"stream longer than the limit of {self.config.max_duration_s:g} s")
            try:
                events = await run_in_threadpool(session.accept, samples, rate)
            except (AudioError, ValueError) as e:
                return await fail(1003, str(e))
            for event in events:
                await ws.send_json(event)
        for event in await run_in_threadpool(session.finish):
            await ws.send_json(event)
        await ws.send_json({"type": "done", "duration": round(received / rate, 3) if rate else 0.0})
        await ws.close(1000)

    def session(self, model, decoder: str | None, cancel: threading.Event):
        """The model's own streaming session, or pause-cut segments transcribed through the work queue."""
        if model.streaming:
            return ModelSession(self.registry.transcriber(model.name, decoder).stream())
        timeout = self.config.timeout_s

        def transcribe(samples: np.ndarray, rate: int):
            job = Job(model.name, decoder, "stream", np.array(samples, np.float32), rate, cancel)
            result = self.queue.submit(job, force=True).result(timeout)
            if isinstance(result, Failure):
                raise AudioError(result.error)
            return result

        c = self.config
        return SegmentSession(transcribe, c.pause_s, c.max_segment_s, c.partial_every_s)


def _positive_int(value, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1000 <= number <= 384000:
        raise HttpError(400, f"{name} '{value}': a rate in Hz between 1000 and 384000")
    return number


def create_app(config: ServeConfig, registry: ModelRegistry | None = None) -> Starlette:
    """The ASGI app; the models are loaded here, once."""
    server = Server(config, registry)

    async def on_http_error(request, e: HttpError):
        return error(e.status, e.message, e.headers)

    async def on_config_error(request, e: ConfigError):
        return error(404 if isinstance(e, UnknownModel) else 400, str(e))

    async def on_busy(request, e: Busy):
        return error(503, str(e), {"Retry-After": str(e.retry_after_s)})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        server.close()

    app = Starlette(routes=[Route("/", server.page), Route("/healthz", server.healthz),
                            Route("/v1/models", server.models),
                            Route("/v1/transcribe", server.transcribe, methods=["POST"]),
                            Route("/v1/format", server.format, methods=["POST"]),
                            WebSocketRoute("/v1/stream", server.stream)],
                    exception_handlers={HttpError: on_http_error, ConfigError: on_config_error, Busy: on_busy},
                    lifespan=lifespan)
    app.state.server = server
    app.add_middleware(ApiKey, key=config.api_key)
    return app
