"""`asr serve`: the Transcriber over HTTP and WebSocket, with a web page (Starlette on uvicorn).

    config.py     the limits and settings of a server (ServeConfig)
    models.py     the models served, loaded once; a Transcriber per worker thread and decoder
    uploads.py    an upload's bytes, read within the size limit, checked and decoded -> audio or a 4xx reason
    work.py       the bounded queue of transcription work: worker threads, several requests in one forward pass,
                  cancellation of work whose client left or timed out
    sessions.py   live audio -> words: the session interface (accept/finish), a pause segmenter for
                  bidirectional models, the adapter for a streaming model's own `transcriber.stream()`
    app.py        the routes: POST /v1/transcribe, WebSocket /v1/stream, GET / (page/index.html), /healthz,
                  /v1/models; the API key; the error answers
    server.py     uvicorn: bind, warn on a public address, run
"""

from asr.serve.app import create_app
from asr.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
