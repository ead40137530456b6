"""report.html in headless Chromium (Debian `chromium`, installed by .ci/run): it runs without script errors
(the page's window.onerror hook writes a marker into the DOM; a control page with a deliberate error shows the
hook works), it is self-contained, and a screenshot is taken."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from asr.scoring.report import write_report
from helpers.scoring_cases import find_chromium, synthetic_pairs, unicode_pairs, write_pairs

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package `chromium`; "
                                                         ".ci/run installs it when run as root)")


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def js_errors(dom: str) -> str:
    """What the page's window.onerror hook recorded: the text of #js-errors, plus the flag on <html>."""
    box = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom, flags=re.S)
    assert box is not None, "no #js-errors element in the dumped DOM"
    html_tag = re.search(r"<html[^>]*>", dom).group(0)
    return box.group(1).strip() + (" [data-js-errors]" if "data-js-errors" in html_tag else "")


def console_errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln and ("Uncaught" in ln or "rror" in ln)]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    pairs = {**synthetic_pairs(), **unicode_pairs()}
    ref, hyp = write_pairs(tmp / "in", pairs)
    write_report(ref, hyp, tmp / "out", bootstrap_samples=200)
    return tmp / "out"


def test_report_is_self_contained(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "page loads something from the network"
    assert page.count("data:image/png;base64,") == 3  # per speaker, error types, WER against length
    assert "Straße" in page and "東京" in page


def test_report_runs_without_script_errors(report_dir, tmp_path):
    res = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", (report_dir / "report.html").as_uri())
    dom = res.stdout
    assert 'data-ready="1"' in dom, f"page script did not finish: {res.stderr[-2000:]}"
    assert js_errors(dom) == ""
    assert console_errors(res.stderr) == []
    assert dom.count("class=\"utt\"") == len(synthetic_pairs()) + len(unicode_pairs())


def test_error_hook_catches_a_broken_script(report_dir, tmp_path):
    """Control: the same page with a deliberate error shows the marker, so the test above can fail."""
    broken = tmp_path / "broken.html"
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    broken.write_text(page.replace("</main>", "</main><script>undefinedFunction();</script>"), encoding="utf-8")
    res = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", broken.as_uri())
    recorded = js_errors(res.stdout)
    assert "JS-ERROR" in recorded and "undefinedFunction" in recorded and "[data-js-errors]" in recorded


def test_screenshot(report_dir, tmp_path):
    shot = report_dir / "report.png"
    res = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars",
                   (report_dir / "report.html").as_uri())
    assert shot.is_file(), res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000  # a blank page compresses to a few kB; plots and tables do not


def test_compare_page_runs_without_script_errors(report_dir, tmp_path):
    from asr.scoring.compare import compare_inputs

    pairs = {**synthetic_pairs(), **unicode_pairs()}
    better = write_pairs(tmp_path / "b", {u: (r, r) for u, (r, _) in pairs.items()})[1]
    compare_inputs([report_dir.parent / "in" / "ref.text", report_dir.parent / "in" / "hyp.text", better],
                   out_dir=tmp_path / "cmp", samples=200)
    res = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", (tmp_path / "cmp" / "compare.html").as_uri())
    assert 'data-ready="1"' in res.stdout and js_errors(res.stdout) == ""
    assert "P(B better than A) = 100.0%" in res.stdout
