"""The CLI's contract, for every `asr` command (found in the app, so a new one is covered when it is added):
`--help` works and shows no `<bool>` for flags nor swallowed `[...]` text; a missing argument, an unknown option,
or paths that do not exist end with exit code != 0 and exactly one stderr line `asr: error: ...`, never a
traceback. Then the bad inputs of issue 21, each with the one line it must give."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from asr.cli import app
from helpers.cli_errors import one_line_error

ROOT = typer.main.get_command(app)
RICH_TAG = re.compile(r"(?<!\\)\[([a-z#/@][^\[\]]*)\]")  # what rich takes for markup and drops from the help


def leaf_commands(group, path=()):
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            yield from leaf_commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


COMMANDS = list(leaf_commands(ROOT))
GROUPS = [()] + [(n,) for n, c in ROOT.commands.items() if hasattr(c, "commands")]
ids = [" ".join(p) for p, _ in COMMANDS]


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke `asr ARGS` in an empty folder (what a command writes lands there)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(app, [str(a) for a in args], prog_name="asr", **kw)


def placeholder_args(cmd, path_value: str) -> list[str]:
    """Values for every required parameter: `path_value` for paths and strings, 2 for numbers."""
    args = []
    for p in cmd.params:
        if not p.required:
            continue
        annotation = str(p.type_descriptor.annotation)
        value = "2" if ("int" in annotation or "float" in annotation) and "List" not in annotation else path_value
        args += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return args


def skip_without_required(cmd) -> None:
    """A command with no required parameter would run for real (a server would start): not here."""
    if not any(p.required for p in cmd.params):
        pytest.skip("no required parameter")


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=ids)
def test_help(run, path, cmd):
    result = run(*path, "--help", env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert f"Usage: asr {' '.join(path)}" in result.output
    assert "<bool>" not in result.output
    for text in [cmd.help or ""] + [p.help or "" for p in cmd.params if getattr(p, "help", None)]:
        assert not RICH_TAG.search(text), f"{' '.join(path)}: rich swallows {RICH_TAG.search(text).group()}: escape it"


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "asr")
def test_group_help_lists_every_command(run, group):
    result = run(*group, "--help", env={"COLUMNS": "250"})
    assert result.exit_code == 0
    cmds = ROOT.commands[group[0]].commands if group else ROOT.commands
    for name in cmds:
        assert re.search(rf"\b{re.escape(name)}\b", result.output), name


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=ids)
def test_missing_arguments_are_one_usage_line(run, path, cmd):
    skip_without_required(cmd)
    message = one_line_error(run(*path))
    assert f"asr {' '.join(path)}: Missing" in message and "--help for usage" in message


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=ids)
def test_an_unknown_option_is_one_usage_line(run, path, cmd):
    message = one_line_error(run(*path, *placeholder_args(cmd, "x"), "--no-such-option"))
    assert "--no-such-option" in message


# what some commands need beyond their required parameters before they look at the paths
REPORTS = {"data validate"}  # commands whose output lists each fault (stdout) and a summary line
MORE_ARGS = {"compare": ["nowhere/y"], "data subset": ["--first", "2"], "decode": ["nowhere/y"]}


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=ids)
def test_paths_that_do_not_exist_are_one_error_line_naming_them(run, path, cmd):
    skip_without_required(cmd)
    message = one_line_error(run(*path, *placeholder_args(cmd, "nowhere/x"), *MORE_ARGS.get(" ".join(path), [])))
    assert "nowhere" in message


@pytest.mark.parametrize("kind", ["empty file", "empty folder"])
@pytest.mark.parametrize("path, cmd", COMMANDS, ids=ids)
def test_empty_files_and_folders_are_one_error_line(run, path, cmd, tmp_path, kind):
    """Every path parameter given an empty file or an empty folder (the wrong kind for half of them)."""
    skip_without_required(cmd)
    given = tmp_path / "given"
    given.mkdir() if kind == "empty folder" else given.write_bytes(b"")
    result = run(*path, *placeholder_args(cmd, "given"), *MORE_ARGS.get(" ".join(path), []))
    if result.exit_code == 0 or " ".join(path) in REPORTS:  # accepted (an empty list), or faults reported
        assert isinstance(result.exception, (SystemExit, type(None))) and "Traceback" not in result.output
        return
    assert "given" in one_line_error(result)


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0 and re.fullmatch(r"asr \(lstm-asr\) \d+\.\d+\S*\n", result.stdout)


def test_a_flag_given_a_value_is_one_usage_line(run):
    assert "does not take a value" in one_line_error(run("transcribe", "m", "a.wav", "--recursive=true"))


def test_a_value_of_the_wrong_type_is_one_usage_line(run):
    message = one_line_error(run("transcribe", "m", "a.wav", "--chunk", "long"))
    assert "--chunk" in message


# ---- the bad inputs of issue 21 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny random model dir (8 kHz fbank, char units): transcripts are arbitrary, errors are what count."""
    from helpers.transcribe import make_model_dir

    return make_model_dir(tmp_path_factory.mktemp("contract") / "model")


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    import numpy as np
    import soundfile as sf

    path = tmp_path_factory.mktemp("audio") / "a.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(8000), 8000)
    return path


def test_transcribe_output_dir_that_is_a_file(run, model, wav, tmp_path):
    (tmp_path / "out.txt").write_text("x\n")
    message = one_line_error(run("transcribe", model, wav, "-o", "out.txt"))
    assert message == "out.txt: --output-dir: an existing file, not a folder"
    message = one_line_error(run("transcribe", model, wav, "-o", "out.txt/sub"))
    assert message == "out.txt/sub: --output-dir: out.txt is a file, not a folder"
    assert run("transcribe", model, wav, "-o", "new/dir", "-f", "json,text").exit_code == 0
    assert (tmp_path / "new" / "dir" / "a.json").is_file()


def test_export_to_an_existing_folder(run, model, tmp_path):
    (tmp_path / "d").mkdir()
    assert one_line_error(run("export", model, "d")) == "d: the model file to write: an existing folder, not a file"
    assert run("export", model, "d/m.asr").exit_code == 0


def test_inspect_gates_on_audio_shorter_than_a_frame(run, model, tmp_path):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "short.wav", np.full(80, 0.01), 8000)  # 10 ms
    message = one_line_error(run("inspect", "gates", model, "short.wav", "--out", "g.png"))
    assert message == "short.wav: too short: 0.010 s of audio, less than one feature frame (25 ms)"
    sf.write(tmp_path / "ok.wav", np.full(400, 0.01), 8000)  # 50 ms: a plot
    assert run("inspect", "gates", model, "ok.wav", "--out", "g.png").exit_code == 0
    assert (tmp_path / "g.png").stat().st_size > 0


@pytest.mark.parametrize("data, message", [
    (b"", "standard input: empty: no audio bytes"),
    (b"hello, not audio\n", "standard input: cannot decode audio: Format not recognised."),
], ids=["empty", "text"])
def test_stdin_that_is_not_audio(run, model, data, message):
    result = run("transcribe", model, "-", input=data)
    assert one_line_error(result) == message


def test_stdin_audio(run, model, wav):
    result = run("transcribe", model, "-", input=wav.read_bytes())
    assert result.exit_code == 0 and result.stdout.startswith("-\t")


def test_a_folder_skips_files_that_are_not_audio_and_says_so(run, model, wav, tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.wav", "b.WAV"):
        (tmp_path / "in" / name).write_bytes(wav.read_bytes())
    (tmp_path / "in" / "README").write_text("about these\n")
    (tmp_path / "in" / "notes.txt").write_text("x\n")
    result = run("transcribe", model, "in")
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["in/a.wav", "in/b.WAV"]
    assert result.stderr == "asr: in: skipped 2 files that are not audio by name (README, notes.txt)\n"
    (tmp_path / "in" / "c.wav").write_text("not really audio\n")  # audio by name: its error stays
    result = run("transcribe", model, "in")
    assert result.exit_code == 1 and "asr: error: in/c.wav: cannot decode audio" in result.stderr


def test_a_folder_with_audio_only_in_sub_folders_says_to_use_r(run, model, wav, tmp_path):
    (tmp_path / "top" / "sub").mkdir(parents=True)
    (tmp_path / "top" / "sub" / "a.wav").write_bytes(wav.read_bytes())
    (tmp_path / "top" / "list.txt").write_text("a.wav\n")
    message = one_line_error(run("transcribe", model, "top"))
    assert message == "top: no audio files in the folder itself, 1 in sub-folders: add -r (--recursive)"
    assert run("transcribe", model, "top", "-r").exit_code == 0
    (tmp_path / "empty").mkdir()
    assert one_line_error(run("transcribe", model, "empty")) == "empty: folder has no files"


def test_a_wav_scp_line_without_audio_fails_alone_naming_file_and_line(run, model, wav, tmp_path):
    (tmp_path / "wav.scp").write_text(f"u1 {wav}\nu2\nu3 missing.wav\nu4 {wav}\n")
    result = run("transcribe", model, "wav.scp")
    assert result.exit_code == 1
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["u1", "u4"]
    assert result.stderr.splitlines() == ["asr: error: wav.scp:2: utterance 'u2' has no audio",
                                          "asr: error: wav.scp:3: missing.wav: no such audio file"]


def test_a_list_line_without_audio_fails_alone_naming_file_and_line(run, model, wav, tmp_path):
    (tmp_path / "a.wav").write_bytes(wav.read_bytes())
    (tmp_path / "in.list").write_bytes(b"# two good, two bad\na.wav\nnope.wav\n\xff\xfe.wav\na.wav\n")
    result = run("transcribe", model, "in.list")
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 2
    assert result.stderr.splitlines() == [
        "asr: error: in.list:3: nope.wav: no such audio file",
        "asr: error: in.list:4: not valid UTF-8 (expected one audio path per line)"]


@pytest.mark.parametrize("device", ["cuda", "gpu"])
def test_a_cuda_device_on_a_machine_without_one(run, model, wav, device):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert "no CUDA device here" in one_line_error(run("transcribe", model, wav, "--device", device))
