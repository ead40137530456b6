"""An upload -> a checked audio file of the server's own (a temporary file), or an HttpError with the status and
the reason: 413 beyond the size or duration limit, 415 for what the audio decoder cannot read or a content type
that is not audio, 422 for audio that decodes to nothing usable (empty, truncated), 400 for a malformed form.

The body is read as it arrives and refused as soon as it passes the limit (a declared Content-Length beyond it is
refused before anything is read). Only the request's bytes are ever read: no client-given path is opened.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass

import soundfile as sf

from asr.audio import truncation

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers, allowed beyond the audio's limit
RAW_TYPES = ("audio/", "video/", "application/octet-stream", "application/ogg")


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Upload:
    name: str  # the client's file name (for messages and the result's `audio` field), never opened
    path: str  # the server's temporary copy
    duration_s: float
    sample_rate: int

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass


def too_large(limit: int) -> HttpError:
    return HttpError(413, f"upload larger than the limit of {limit} bytes ({limit / 2 ** 20:g} MB)")


async def read_audio_bytes(request, limit: int, idle_s: float = 60.0) -> tuple[str, bytes]:
    """(file name, audio bytes) of a multipart upload (field `file`, else the first file) or a raw body."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = ctype == "multipart/form-data"
    if not (multipart or not ctype or ctype.startswith(RAW_TYPES)):
        raise HttpError(415, f"content type '{ctype}' is not audio: send the file as multipart/form-data (field "
                             f"`file`) or as the raw body (audio/*, application/octet-stream)")
    body = await read_body(request, limit + (FORM_OVERHEAD if multipart else 0), idle_s)
    if not multipart:
        return request.query_params.get("filename") or "upload", body

    async def replay():
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=4, max_fields=16).parse()
    except MultiPartException as e:
        raise HttpError(400, f"malformed multipart form: {e.message}") from None
    files = [v for k, v in form.multi_items() if hasattr(v, "read")]
    chosen = form.get("file") if hasattr(form.get("file"), "read") else files[0] if files else None
    if chosen is None:
        raise HttpError(400, "the form has no file: send the audio in the field `file`")
    data = await chosen.read()
    await form.close()
    if len(data) > limit:
        raise too_large(limit)
    return chosen.filename or "upload", data


async def read_body(request, limit: int, idle_s: float = 60.0) -> bytes:
    """The body, refused (413) once past `limit` bytes, or (408) when no bytes come for `idle_s`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HttpError(400, f"bad Content-Length '{declared}'")
        if int(declared) > limit:
            raise too_large(limit)
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), idle_s)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise HttpError(408, f"no bytes of the upload came for {idle_s:g} s") from None
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def safe_name(name: str) -> str:
    """The client's file name as printed back: its last path part, printable, at most 200 characters."""
    base = re.split(r"[\\/]", name)[-1]
    return re.sub(r"[^\w.\- ]", "_", base)[:200] or "upload"


def save_upload(name: str, data: bytes, folder: str, max_duration_s: float) -> Upload:
    """Write the bytes to a temporary file in `folder` and check that they are audio within the duration limit."""
    name = safe_name(name)
    if not data:
        raise HttpError(422, f"{name}: empty upload (zero bytes)")
    suffix = os.path.splitext(name)[1].lower()
    fd, path = tempfile.mkstemp(suffix=suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else "", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    upload = Upload(name, path, 0.0, 0)
    try:
        try:
            info = sf.info(path)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            raise HttpError(415, f"{name}: cannot decode audio: {e}".replace(path, name)) from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise HttpError(422, f"{name}: audio has no samples")
        cut = truncation(info.extra_info)
        if cut:
            raise HttpError(422, f"{name}: truncated file: its header promises {cut[0]} bytes of audio, the file "
                                 f"holds {cut[1]}")
        upload.duration_s, upload.sample_rate = info.frames / info.samplerate, info.samplerate
        if upload.duration_s > max_duration_s:
            raise HttpError(413, f"{name}: {upload.duration_s:.1f} s of audio, longer than the limit of "
                                 f"{max_duration_s:g} s")
    except HttpError:
        upload.remove()
        raise
    return upload
