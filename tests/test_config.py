"""Typed config (asr.config): YAML keys remember file and line; sections, keys and value types are checked,
naming where and which key. Through `asr train`: every bad config, `--set` or input is one line on stderr and
leaves no exp dir (or the existing one as it was); good configs (egs/*/conf) still load and train."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from typer.testing import CliRunner

from asr.cli import app
from asr.config import Located, apply_overrides, check_sections, load_config, section_from_dict, typed_value
from asr.errors import ConfigError
from asr.features.kaldi import FeatureConfig
from asr.training.run import SECTIONS
from helpers import REPO
from helpers.cli_errors import one_line_error
from helpers.training import make_data


@dataclasses.dataclass
class Options:
    count: int = 1
    rate: float = 0.5
    name: str = "a"
    flag: bool = False


# ---- asr.config -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, value, expected", [(float, 1, 1.0), (float, 2.5, 2.5), (float, "1e-3", 0.001),
                                                    (float, "-2.5E+2", -250.0), (int, 3, 3), (bool, True, True),
                                                    (str, "x", "x")])
def test_typed_value_takes_the_fields_type(kind, value, expected):
    got = typed_value(kind, value)
    assert got == expected and type(got) is kind


@pytest.mark.parametrize("kind, value", [(int, "two"), (int, 1.5), (int, 2.0), (int, True), (float, "fast"),
                                         (float, True), (float, None), (bool, 1), (bool, "yes"), (str, 3),
                                         (float, "1e"), (float, "nan")])
def test_typed_value_refuses_other_types(kind, value):
    with pytest.raises(ValueError, match="expected"):
        typed_value(kind, value)


@pytest.mark.parametrize("kind, value, expected", [(int | None, None, None), (int | None, 3, 3),
                                                   (list[float], [1, 2.5], [1.0, 2.5]), (list[float], 2, [2.0]),
                                                   (list[float], [], [])])
def test_typed_value_takes_optional_and_list_fields(kind, value, expected):
    assert typed_value(kind, value) == expected


@pytest.mark.parametrize("kind, value", [(int | None, "x"), (list[float], ["a"]), (list[float], [True])])
def test_typed_value_refuses_bad_optional_and_list_values(kind, value):
    with pytest.raises(ValueError, match="expected"):
        typed_value(kind, value)


def test_load_config_remembers_each_keys_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("# comment\nmodel:\n  num_layers: 2\n\n  hidden_size: 8\ntraining: {lr: 0.1}\n")
    config = load_config(path)
    assert config == {"model": {"num_layers": 2, "hidden_size": 8}, "training": {"lr": 0.1}}
    assert config.where == {"model": f"{path}:2", "training": f"{path}:6"}
    assert config["model"].where == {"num_layers": f"{path}:3", "hidden_size": f"{path}:5"}


def test_load_config_strips_a_byte_order_mark_and_reads_empty_files_as_empty(tmp_path):
    (tmp_path / "bom.yaml").write_bytes("\ufeffkind: mfcc\n".encode())
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert load_config(tmp_path / "bom.yaml") == {"kind": "mfcc"}
    assert load_config(tmp_path / "empty.yaml") == {}


@pytest.mark.parametrize("text, message", [("a: [\n", r"c.yaml:2: not valid YAML"), ("- 1\n- 2\n", "not list"),
                                           ("a: 1\n\tb: 2\n", r"c.yaml:2: not valid YAML")])
def test_load_config_errors_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "c.yaml")


def test_load_config_names_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="a directory"):
        load_config(tmp_path)


def test_overrides_set_values_and_remember_the_item():
    config = apply_overrides(Located(model=Located(num_layers=2)), ["model.num_layers=3", "training.lr=1e-3"])
    assert config == {"model": {"num_layers": 3}, "training": {"lr": "1e-3"}}
    assert config["model"].where["num_layers"] == "--set model.num_layers=3"
    assert config.where["training"] == config["training"].where["lr"] == "--set training.lr=1e-3"


@pytest.mark.parametrize("item, message", [("model", "expected section.key=value"),
                                           ("model.=1", "expected section.key=value"),
                                           ("model.num_layers.x=1", "model.num_layers is a value, not a section"),
                                           ("model.x=[", "value not valid YAML")])
def test_bad_overrides_name_the_item(item, message):
    with pytest.raises(ConfigError, match=f"--set {item.replace('[', '.')}: {message}"):
        apply_overrides({"model": {"num_layers": 2}}, [item])


def test_section_from_dict_converts_and_names_where_and_the_key(tmp_path):
    assert section_from_dict(Options, {"rate": 2, "count": 3}, "opts") == Options(count=3, rate=2.0)
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ncount: two\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: opts.count: expected an integer, got 'two'$"):
        section_from_dict(Options, load_config(path), "opts")
    with pytest.raises(ConfigError, match=r"^opts.cuont: unknown opts option; did you mean count\?$"):
        section_from_dict(Options, {"cuont": 1}, "opts")
    with pytest.raises(ConfigError, match=r"^opts.zzz: unknown opts option \(known: count, rate, name, flag\)$"):
        section_from_dict(Options, {"zzz": 1}, "opts")
    with pytest.raises(ConfigError, match=r"^opts.name: expected a or b, got 'c'$"):
        section_from_dict(Options, {"name": "c"}, "opts", choices={"name": ("a", "b")})


def test_check_sections_names_the_section_and_a_likely_meaning():
    with pytest.raises(ConfigError, match=r"^modle: unknown section \(known: augment, model, training\); "
                                          r"did you mean model\?$"):
        check_sections({"training": {}, "modle": {}}, SECTIONS)
    with pytest.raises(ConfigError, match=r"^epochs: unknown section .*; did you mean training.epochs\?$"):
        check_sections({"epochs": 3}, SECTIONS)
    with pytest.raises(ConfigError, match=r"^model: expected a mapping of model options, not int$"):
        check_sections({"model": 3}, SECTIONS)


@pytest.mark.parametrize("path", sorted(REPO.glob("egs/*/conf/train.yaml")), ids=lambda p: p.parts[-3])
def test_recipe_training_configs_load(path):
    config = load_config(path)
    check_sections(config, SECTIONS)
    for name, cls in SECTIONS.items():
        cls.from_dict(config.get(name))


@pytest.mark.parametrize("path", sorted(REPO.glob("egs/*/conf/fbank.yaml")), ids=lambda p: p.parts[-3])
def test_recipe_feature_configs_load(path):
    assert FeatureConfig.from_dict(load_config(path)).kind == "fbank"


def test_feature_config_names_file_line_and_key(tmp_path):
    (tmp_path / "fbank.yaml").write_text("kind: fbank\nnum_mel_bins: 40.5\n")
    with pytest.raises(ConfigError, match=r"fbank.yaml:2: feature.num_mel_bins: expected an integer, got 40.5"):
        FeatureConfig.from_dict(load_config(tmp_path / "fbank.yaml"))
    (tmp_path / "fbank.yaml").write_text("kind: plp\n")
    with pytest.raises(ConfigError, match=r"fbank.yaml:1: feature.kind: expected fbank or mfcc, got 'plp'"):
        FeatureConfig.from_dict(load_config(tmp_path / "fbank.yaml"))


# ---- through `asr train` ------------------------------------------------------------------------------------

GOOD = "model:\n  num_layers: 1\n  hidden_size: 8\n  subsample: 1\n  stack_frames: 1\ntraining:\n  epochs: 1\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    train_dir = make_data(root, "train", 6, 0)
    make_data(root, "dev", 3, 1)
    assert CliRunner().invoke(app, ["tokens", str(train_dir), "--out", str(root / "lang" / "tokens.txt")]).exit_code == 0
    (root / "good.yaml").write_text(GOOD)
    return root


def train(corpus, exp, *args, config="good.yaml"):
    return CliRunner().invoke(app, ["train", "--config", str(corpus / config), "--train-dir", str(corpus / "train"),
                                    "--dev-dir", str(corpus / "dev"), "--tokens", str(corpus / "lang" / "tokens.txt"),
                                    "--exp-dir", str(exp), "--device", "cpu", "--no-progress", *map(str, args)])


BAD_FILES = {  # config text -> the message (after `<file>:`)
    "modle:\n  num_layers: 1\n": "1: modle: unknown section (known: augment, model, training); did you mean model?",
    "model:\n  num_layers: two\n": "2: model.num_layers: expected an integer, got 'two'",
    "model:\n  num_layer: 2\n": "2: model.num_layer: unknown model option; did you mean num_layers?",
    "training:\n  epochs: 1\n  lr: fast\n": "3: training.lr: expected a number, got 'fast'",
    "training:\n  epochs: 1.5\n": "2: training.epochs: expected an integer, got 1.5",
    "model:\n  bidirectional: 1\n": "2: model.bidirectional: expected true or false, got 1",
    "model:\n  num_layers: true\n": "2: model.num_layers: expected an integer, got true",
    "model:\n  cmn: spk\n": ("2: model.cmn: expected global or utterance or utterance_mv or running or speaker or "
                          "speaker_mv, got 'spk'"),
    "training:\n  best_metric: per\n": "2: training.best_metric: expected loss or cer or wer, got 'per'",
    "augment:\n  freq_mask: 2\n": "2: augment.freq_mask: unknown augment option; did you mean freq_masks?",
    "model: 4\n": "1: model: expected a mapping of model options, not int",
    "model:\n  num_layers: [1\n": "3: not valid YAML",
}


@pytest.mark.parametrize("text", BAD_FILES)
def test_bad_config_file_is_one_line_naming_file_line_and_key(corpus, tmp_path, text):
    (tmp_path / "bad.yaml").write_text(text)
    result = train(corpus, tmp_path / "exp", config=tmp_path / "bad.yaml")  # an absolute path: corpus / it = it
    assert one_line_error(result).startswith(f"{tmp_path / 'bad.yaml'}:{BAD_FILES[text]}")
    assert not (tmp_path / "exp").exists()


BAD_SETS = {
    "num_layers=3": "num_layers: unknown section (known: augment, model, training); did you mean model.num_layers?",
    "modle.num_layers=1": "modle: unknown section (known: augment, model, training); did you mean model?",
    "model.num_layer=1": "model.num_layer: unknown model option; did you mean num_layers?",
    "training.lr=fast": "training.lr: expected a number, got 'fast'",
    "training.epochs=1.5": "training.epochs: expected an integer, got 1.5",
    "training.epochs.x=1": "training.epochs is a value, not a section",
    "training.lr": "expected section.key=value",
}


@pytest.mark.parametrize("item", BAD_SETS)
def test_bad_set_is_one_line_naming_the_item_and_key(corpus, tmp_path, item):
    assert one_line_error(train(corpus, tmp_path / "exp", "--set", item)) == f"--set {item}: {BAD_SETS[item]}"
    assert not (tmp_path / "exp").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--train-dir", "nope", "nope: no such data directory"),
    ("--dev-dir", "nope", "nope: no such data directory"),
    ("--tokens", "nope/tokens.txt", "nope/tokens.txt: no such file"),
    ("--config", "nope.yaml", "nope.yaml: no such config file"),
])
def test_missing_inputs_are_named_before_the_exp_dir_is_made(corpus, tmp_path, monkeypatch, option, value, message):
    monkeypatch.chdir(tmp_path)
    args = {"--config": corpus / "good.yaml", "--train-dir": corpus / "train", "--dev-dir": corpus / "dev",
            "--tokens": corpus / "lang" / "tokens.txt", option: value}
    result = CliRunner().invoke(app, ["train", *[str(x) for kv in args.items() for x in kv], "--exp-dir", "exp"])
    assert one_line_error(result) == message
    assert not (tmp_path / "exp").exists()


def test_data_dir_without_features_is_named_before_the_exp_dir_is_made(corpus, tmp_path):
    (tmp_path / "raw").mkdir()
    result = CliRunner().invoke(app, ["train", "--config", str(corpus / "good.yaml"), "--train-dir",
                                      str(tmp_path / "raw"), "--dev-dir", str(corpus / "dev"), "--tokens",
                                      str(corpus / "lang" / "tokens.txt"), "--exp-dir", str(tmp_path / "exp")])
    assert one_line_error(result).startswith(f"{tmp_path / 'raw' / 'feats.yaml'}: missing")
    assert not (tmp_path / "exp").exists()


def test_an_exp_dir_that_is_a_file_is_named(corpus, tmp_path):
    (tmp_path / "exp").write_text("not a dir\n")
    assert one_line_error(train(corpus, tmp_path / "exp")) == f"{tmp_path / 'exp'}: exists and is not a directory " \
                                                               "(the exp dir)"


def test_good_config_trains_and_a_bad_rerun_leaves_the_exp_dir_as_it_was(corpus, tmp_path):
    exp = tmp_path / "exp"
    result = train(corpus, exp, "--set", "training.lr=1e-3", "--set", "augment.freq_masks=1")
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    assert saved["training"]["lr"] == 0.001 and saved["augment"]["freq_masks"] == 1
    before = {p: p.stat().st_mtime_ns for p in exp.rglob("*")}
    one_line_error(train(corpus, exp, "--set", "model.num_layers=two"))
    assert {p: p.stat().st_mtime_ns for p in exp.rglob("*")} == before
