"""bench/serve_load.py in a few seconds: the plumbing works and every fuzz case gets a 4xx or a close code while
the load runs (no speed is checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.serve_load import FUZZ_HTTP, FUZZ_WS
from helpers import REPO


def test_short_load_run_has_no_errors_and_answers_every_bad_request(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run([sys.executable, "-m", "bench.serve_load", "--seconds", "3", "--clients", "2", "--streams",
                           "1", "--recordings", "4", "--fuzz-every", "0.1", "--serve-args", "--workers 1",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["requests"] > 0 and result["errors"] == 0 and result["healthz_after"] == 200
    assert set(result["fuzz"]) == set(FUZZ_HTTP) | set(FUZZ_WS)
    assert all(v["ok"] == v["sent"] > 0 for v in result["fuzz"].values()), result["fuzz"]
    assert result["server_peak_rss_mb"] > 0
