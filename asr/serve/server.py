"""Run the app on uvicorn: 127.0.0.1 unless told otherwise, with a warning for an address others can reach."""

from __future__ import annotations

import sys

from asr.serve.config import ServeConfig

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
WS_MAX_FRAME = 4 * 1024 * 1024  # bytes of one WebSocket message; larger: close code 1009


def public_warning(host: str, api_key: str | None) -> str | None:
    if host in LOCAL_HOSTS:
        return None
    return (f"asr: warning: listening on {host}: other machines can reach this server"
            + ("" if api_key else " and no --api-key is set"))


def serve(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    import uvicorn

    from asr.serve.app import create_app

    warning = public_warning(host, config.api_key)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    app = create_app(config)  # the models load before the port opens
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws_max_size=WS_MAX_FRAME,
                timeout_graceful_shutdown=5)
