"""`asr serve`: the transcription server (HTTP API, WebSocket stream, web page)."""

from __future__ import annotations

from typing import List, Optional

import typer

from asr.cli.common import app, command


@command(app, "serve")
def serve_cmd(
    model: Optional[str] = typer.Argument(None, help="model dir or .asr file (served as `default`)"),
    models: List[str] = typer.Option([], "--model", help="NAME=PATH: another model, chosen by ?model=NAME"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (0.0.0.0: every interface; warns)"),
    port: int = typer.Option(8000, "--port"),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="ASR_API_KEY",
                                          help="required on every route but /healthz"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1 (default: cuda when present)"),
    workers: int = typer.Option(0, "--workers", help="transcription threads (0: one per core, at most 4)"),
    threads: int = typer.Option(1, "--threads", help="torch threads per worker (0: torch's default)"),
    max_batch: int = typer.Option(8, "--max-batch", help="requests run through the model together"),
    max_queue: int = typer.Option(32, "--max-queue", help="requests running or waiting; beyond: 503"),
    max_streams: int = typer.Option(16, "--max-streams", help="WebSocket streams at once"),
    max_upload_mb: float = typer.Option(100.0, "--max-upload-mb", help="413 beyond"),
    max_duration: float = typer.Option(3600.0, "--max-duration", help="seconds of audio per request or stream"),
    timeout: float = typer.Option(600.0, "--timeout", help="seconds per request; 504 beyond"),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's: debug, info, warning, error"),
):
    """Serve models over HTTP and WebSocket, with a web page at /. Stop with Ctrl-C."""
    import torch

    from asr.device import check_device
    from asr.serve.config import ServeConfig, default_workers, parse_model_specs
    from asr.serve.server import serve

    config = ServeConfig(models=parse_model_specs(model, models), device=check_device(device) or ("cuda" if torch.cuda.is_available() else "cpu"),
                         workers=workers or default_workers(), threads=threads, max_batch=max_batch,
                         max_queue=max_queue, max_streams=max_streams, max_upload_mb=max_upload_mb,
                         max_duration_s=max_duration, timeout_s=timeout, api_key=api_key)
    serve(config.check(), host, port, log_level)
