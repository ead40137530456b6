"""`--device` (asr.device): gpu is taken for cuda; a device this machine lacks, or an unknown name, is one line
on stderr from `asr train`, `asr decode` and `asr transcribe`, before anything is loaded or written. CUDA's
presence is faked both ways, so the tests mean the same on any machine."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from asr.cli import app
from asr.device import check_device
from asr.errors import ConfigError
from helpers.cli_errors import one_line_error

NO_CUDA = "no CUDA device here (torch.cuda.is_available() is False)"


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_cpu_and_default_pass(no_cuda):
    assert check_device("cpu") == "cpu" and check_device(None) is None


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "gpu", "gpu:1"])
def test_cuda_without_cuda_is_named(no_cuda, name):
    with pytest.raises(ConfigError, match=rf"^--device {name}: {NO_CUDA.replace('(', '.').replace(')', '.')}$"):
        check_device(name)


@pytest.mark.parametrize("name", ["tpu", "CUDA", "", "cuda:x", "meta"])
def test_unknown_device_is_named(name):
    with pytest.raises(ConfigError, match=rf"^--device {name}: unknown device"):
        check_device(name)


def test_gpu_is_cuda_and_the_index_is_checked(one_gpu):
    assert check_device("gpu") == "cuda" and check_device("gpu:0") == "cuda:0" and check_device("cuda") == "cuda"
    with pytest.raises(ConfigError, match=r"^--device cuda:1: no such CUDA device \(this machine has 1: cuda:0"):
        check_device("cuda:1")


@pytest.mark.parametrize("device, message", [("cuda", NO_CUDA), ("gpu", NO_CUDA), ("tpu", "unknown device")])
@pytest.mark.parametrize("command", [
    ["train", "--config", "c.yaml", "--train-dir", "tr", "--dev-dir", "dv", "--tokens", "t.txt", "--exp-dir", "exp"],
    ["decode", "model", "data", "exp/out"],
    ["transcribe", "model", "a.wav", "-o", "exp"],
])
def test_commands_name_the_device_in_one_line(no_cuda, tmp_path, monkeypatch, command, device, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("training:\n  epochs: 1\n")
    for d in ("tr", "dv"):
        (tmp_path / d).mkdir()
    result = CliRunner().invoke(app, [*command, "--device", device])
    assert one_line_error(result).startswith(f"--device {device}: {message}")
    assert not (tmp_path / "exp").exists()


def test_transcriber_api_names_a_missing_device_before_loading(no_cuda, tmp_path):
    from asr.transcribe import Transcriber

    with pytest.raises(ConfigError, match=r"^device cuda: no CUDA device here"):
        Transcriber.from_pretrained(tmp_path / "no-model-needed", device="cuda")
