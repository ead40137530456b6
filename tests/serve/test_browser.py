"""The page in a real browser: Debian's chromium driven by Selenium (chromedriver from Debian's chromium-driver;
.ci/run installs both), against a running `asr serve` of the yesno model on 127.0.0.1. (a) A yesno recording
picked as a file; (b) Chromium's fake microphone playing a yesno recording, streamed over the WebSocket. The words
are read from the page's DOM; a screenshot of each is saved in the test's folder."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from asr.audio import resample
from helpers import corpus_path
from helpers.scoring_cases import find_chromium
from helpers.serve import running_server

CHROMIUM = find_chromium()
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (the test extra)")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="chromium or chromedriver not installed (Debian: chromium chromium-driver)")

YESNO = "0_0_1_0_1_0_0_1.wav"
WORDS = "NO NO YES NO YES NO NO YES".split()


def browser(fake_audio=None, downloads=None):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--window-size=1000,720", "--autoplay-policy=no-user-gesture-required",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"):
        options.add_argument(arg)
    if fake_audio is not None:
        options.add_argument(f"--use-file-for-fake-audio-capture={fake_audio}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def script_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(driver, condition, timeout: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.2)
    status = driver.find_element("id", "status").text
    raise AssertionError(f"timed out waiting for {what}; page status: {status!r}; words: {page_words(driver)}")


def page_words(driver, final_only: bool = True) -> list[str]:
    css = "#transcript .word" + (":not(.partial)" if final_only else "")
    return [e.text for e in driver.find_elements("css selector", css)]


def state(driver) -> str:
    return driver.find_element("id", "status").get_attribute("data-state")


def contains(words: list[str], part: list[str]) -> bool:
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))


@pytest.fixture(scope="module")
def server(yesno_model):
    if corpus_path("yesno") is None:
        pytest.skip("yesno corpus not found (set ASR_CORPORA)")
    with running_server(str(yesno_model), "--workers", "1") as (url, _):
        yield url


def test_upload_a_file(server, tmp_path):
    wav = corpus_path("yesno") / "waves_yesno" / YESNO
    driver = browser(downloads=tmp_path)
    try:
        driver.get(server + "/")
        wait_for(driver, lambda d: d.find_elements("css selector", "#model option"), 30, "the model list")
        picker = driver.find_element("id", "file")
        driver.execute_script("arguments[0].hidden = false", picker)
        picker.send_keys(str(wav))
        wait_for(driver, lambda d: state(d) in ("done", "error"), 60, "the transcript")
        assert state(driver) == "done", driver.find_element("id", "status").text
        assert page_words(driver) == WORDS
        spans = driver.find_elements("css selector", "#transcript .word")
        starts = [float(s.get_attribute("data-start")) for s in spans]
        assert starts == sorted(starts) and all(0 < float(s.get_attribute("data-confidence")) <= 1 for s in spans)
        assert "rgba(47, 111, 223" in spans[0].value_of_css_property("background-color")  # shaded by confidence
        spans[3].click()  # plays from the word's start
        wait_for(driver, lambda d: d.execute_script("return document.getElementById('player').currentTime")
                 >= starts[3] - 0.05, 10, "playback from the clicked word")
        for fmt, ext in (("srt", "srt"), ("text", "txt")):  # downloads, in the server's formats
            driver.find_element("css selector", f"[data-format={fmt}]").click()
            saved = tmp_path / f"{wav.stem}.{ext}"
            wait_for(driver, lambda d: saved.is_file() and saved.stat().st_size > 0, 30, f"the {ext} download")
        assert (tmp_path / f"{wav.stem}.srt").read_text().startswith("1\n00:00:00,")
        assert (tmp_path / f"{wav.stem}.txt").read_text() == " ".join(WORDS) + "\n"
        driver.save_screenshot(str(tmp_path / "upload.png"))
        assert script_errors(driver) == []
    finally:
        driver.quit()


def test_record_from_the_fake_microphone(server, tmp_path):
    """Chromium's fake microphone loops the recording (at 48 kHz, a second of quiet after it); the words
    streamed back must hold the recording's words in order."""
    x, rate = sf.read(corpus_path("yesno") / "waves_yesno" / YESNO, dtype="float32")
    quiet = 0.002 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    fake = tmp_path / "mic.wav"
    sf.write(fake, resample(np.concatenate([quiet, x, quiet]), rate, 48000), 48000, subtype="PCM_16")
    driver = browser(fake)
    try:
        driver.get(server + "/")
        wait_for(driver, lambda d: d.find_elements("css selector", "#model option"), 30, "the model list")
        driver.find_element("id", "record").click()
        wait_for(driver, lambda d: state(d) == "recording" or state(d) == "error", 30, "recording to start")
        assert state(driver) == "recording", driver.find_element("id", "status").text
        wait_for(driver, lambda d: contains(page_words(d), WORDS), 60, "the recording's words")
        driver.find_element("id", "stop").click()
        wait_for(driver, lambda d: state(d) in ("done", "error"), 60, "the stream to finish")
        assert state(driver) == "done", driver.find_element("id", "status").text
        assert contains(page_words(driver), WORDS)
        driver.save_screenshot(str(tmp_path / "microphone.png"))
        assert script_errors(driver) == []
    finally:
        driver.quit()
