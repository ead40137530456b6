"""One-file models: `asr export EXP_DIR model.asr` packs a model dir into a zip archive.

    asr-model.yaml       format: lstm-asr-model, format_version, asr_version, created, source, files, decoding
    config.yaml          feature settings, model config (as in the model dir)
    tokens.txt           the output units (+ bpe.model, lexicon.txt or words.txt: whatever the units need)
    model.pt             weights, global CMVN included (buffers)
    decoding/lexicon.txt optional: the vocabulary for lexicon + LM decoding
    decoding/lm.arpa     optional: the word n-gram
    decoding/spell_lm.arpa optional: the letter n-gram for spelled words (asr.decoding.spelling)
    model.onnx           optional (`--onnx`): the network as ONNX with its metadata (asr.export.onnx), which
                         `asr transcribe --backend onnx` (asr.runtime) reads without PyTorch

`--quantize int8` records `quantize: int8` in the manifest; loading then quantises the model dynamically
(asr.model.quantize), and the ONNX member is quantised too.

The manifest's `decoding` is the model dir's decoding.yaml (asr.model.store: the decoder, its settings, these
files), or what `--lexicon --lm --lm-params` give. `unzip -l model.asr` shows what is inside. Loading checks the
format name and version and says what is wrong with a file that is not such a model; it extracts the file to a
temporary dir (the decoding files stay there for the life of the process) with the manifest's `decoding` as its
decoding.yaml and loads that as a model dir, so both give the same LoadedModel.
"""

from __future__ import annotations

import atexit
import datetime
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import torch
import yaml

import asr
from asr.errors import AsrError, ConfigError
from asr.fileio import atomic_write, check_output_path
from asr.model.store import CONFIG, DECODING, DECODING_FILES, WEIGHTS, LoadedModel, decoding_member, load_model_dir

MANIFEST = "asr-model.yaml"
FORMAT = "lstm-asr-model"
FORMAT_VERSION = 1
SUFFIX = ".asr"
ONNX_MEMBER = "model.onnx"


def export_model(model_dir: str | os.PathLike, out: str | os.PathLike, lexicon: str | os.PathLike | None = None,
                 lm: str | os.PathLike | None = None, lm_params: str | os.PathLike | None = None,
                 onnx: bool = False, quantize: str | None = None) -> Path:
    """Pack model dir (or exp dir) `model_dir` into the file `out` with the decoder its decoding.yaml records (the
    recipe's choice: asr.model.store), or with a lexicon, LM and the LM weights of a dev search (`lm_params.yaml`
    of `asr decode --tune-lm-weights`) given here, which then set the decoder to lm."""
    src, out = Path(model_dir), Path(out)
    check_output_path(out, folder=False, what="the model file to write")
    loaded = load_model_dir(src)  # only a model that loads gets packed
    decoding = {k: v for k, v in (loaded.config.get("decoding") or {}).items() if k != "decode_dirs"}
    sources: dict[str, str] = {}
    if lexicon is not None or lm is not None:  # given files replace the model's pair (a spelling LM stays)
        decoding = {k: v for k, v in decoding.items() if k not in ("lexicon", "lm")} | {"decoder": "lm"}
    for what, path in (("lexicon", lexicon), ("lm", lm)):
        if path is not None:
            if not Path(path).is_file():
                raise ConfigError(f"{path}: no such {what} file")
            decoding[what], sources[what] = str(path), str(Path(path).resolve())
    if lm_params is not None:
        from asr.decoding.config import read_lm_params

        decoding.update(read_lm_params(lm_params))
        sources["lm_params"] = str(Path(lm_params).resolve())
    members: list[tuple[Path, str]] = []
    for what in DECODING_FILES:
        if decoding.get(what):
            path = Path(decoding[what])
            decoding[what] = decoding_member(what, path)
            members.append((path, decoding[what]))
    with tempfile.TemporaryDirectory() as tmp:
        loaded.tokenizer.save_dir(tmp)  # tokens.txt and what the unit kind needs beside it
        unit_files = sorted(os.listdir(tmp))
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "asr_version": asr.__version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "source": str(src.resolve()), "files": [CONFIG, WEIGHTS, *unit_files],
            "decoding": {**decoding, "sources": sources} if sources else decoding,
        }
        if quantize:
            from asr.model.quantize import QUANTIZE

            if quantize not in QUANTIZE:
                raise ConfigError(f"quantisation must be one of {', '.join(QUANTIZE)}, not '{quantize}'")
            manifest["quantize"] = quantize
        if onnx:
            from asr.export.onnx import export_onnx

            export_onnx(src, Path(tmp) / ONNX_MEMBER, quantize)
            manifest["files"].append(ONNX_MEMBER)
        with atomic_write(out, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, yaml.safe_dump(manifest, sort_keys=False))
            z.write(src / CONFIG, CONFIG)
            z.write(src / WEIGHTS, WEIGHTS, compress_type=zipfile.ZIP_STORED)  # torch files are zips already
            for name in unit_files:
                z.write(Path(tmp) / name, name)
            for path, member in members:
                z.write(path, member)
            if onnx:
                z.write(Path(tmp) / ONNX_MEMBER, ONNX_MEMBER)
    return out


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of model file `path`, after checking that it is one this version can read."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model (expected a model dir or a {SUFFIX} file from `asr export`)")
    if path.stat().st_size == 0:
        raise ConfigError(f"{path}: not a model: the file is empty")
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{path}: not a model: expected a model dir or a {SUFFIX} file made by `asr export`, "
                          f"and this file is not a zip archive")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if MANIFEST not in names:
                if any(n.endswith("data.pkl") for n in names):
                    raise ConfigError(f"{path}: a PyTorch weights file, not a model: pass its directory, or pack "
                                      f"that with `asr export DIR model{SUFFIX}`")
                raise ConfigError(f"{path}: not a model: a zip archive without {MANIFEST}")
            manifest = yaml.safe_load(z.read(MANIFEST))
    except zipfile.BadZipFile as e:
        raise ConfigError(f"{path}: damaged model file: {e}") from None
    except yaml.YAMLError:
        raise ConfigError(f"{path}: damaged model file: {MANIFEST} is not valid YAML") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a model: {MANIFEST} does not say format: {FORMAT}")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise ConfigError(f"{path}: damaged model file: format_version is {version!r}, not a number")
    if version > FORMAT_VERSION:
        raise ConfigError(f"{path}: model format version {version} is newer than this lstm-asr "
                          f"({asr.__version__}) reads (up to {FORMAT_VERSION}): upgrade lstm-asr")
    decoding = manifest.get("decoding") or {}
    needed = [*(manifest.get("files") or [CONFIG, WEIGHTS]), *(decoding[k] for k in DECODING_FILES if k in decoding)]
    missing = [n for n in needed if n not in names]
    if missing:
        raise ConfigError(f"{path}: damaged model file: no {', '.join(missing)} inside")
    return manifest


def load_package(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file made by `export_model`; its lexicon/LM (if any) go to config['decoding'] as paths."""
    manifest = read_manifest(path)
    tmp = tempfile.mkdtemp(prefix="asr-model-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # lexicon and LM files must outlive this call
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            if bad is not None:
                raise ConfigError(f"{path}: damaged model file: {bad} fails its checksum")
            z.extractall(tmp)
        decoding = {k: v for k, v in (manifest.get("decoding") or {}).items() if k != "sources"}
        if decoding:  # the decoder the model dir recorded, as the model dir has it (one loader for both)
            Path(tmp, DECODING).write_text(yaml.safe_dump(decoding, sort_keys=False))
        loaded = load_model_dir(tmp, device)
    except zipfile.BadZipFile as e:
        raise ConfigError(f"{path}: damaged model file: {e}") from None
    except AsrError as e:
        raise type(e)(str(e).replace(tmp, str(path))) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ConfigError(f"{path}: damaged model file: {str(e).splitlines()[0]}") from None
    for name in os.listdir(tmp):  # loaded now; only the decoding files stay on disk
        if os.path.isfile(os.path.join(tmp, name)):
            os.unlink(os.path.join(tmp, name))
    if not any(k in (manifest.get("decoding") or {}) for k in DECODING_FILES):
        shutil.rmtree(tmp, ignore_errors=True)
    if manifest.get("quantize"):
        from asr.model.quantize import quantize_model

        if torch.device(device).type != "cpu":
            raise ConfigError(f"{path}: an int8 model runs on the CPU only (--device cpu), not {device}")
        loaded.model = quantize_model(loaded.model, manifest["quantize"])
    return loaded


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """A model dir (or exp dir) or a model file -> LoadedModel."""
    if Path(path).is_dir():
        return load_model_dir(path, device)
    return load_package(path, device)
