"""One-file models: `asr export EXP_DIR model.asr` packs a model dir into a zip archive.

    asr-model.yaml  format: lstm-asr-model, format_version, asr_version, created, source, decoding
    config.yaml     feature settings, model config (as in the model dir)
    tokens.txt      the output units
    model.pt        weights, global CMVN included (buffers)
    lexicon.txt     optional, for lexicon + LM decoding
    lm.<ext>        optional language model (e.g. lm.arpa)

`unzip -l model.asr` shows what is inside. Loading checks the format name and version and says what is wrong
with a file that is not such a model; it returns the same LoadedModel as a model dir.
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
from asr.fileio import atomic_write
from asr.model.store import CONFIG, TOKENS, WEIGHTS, LoadedModel, load_model_dir

MANIFEST = "asr-model.yaml"
FORMAT = "lstm-asr-model"
FORMAT_VERSION = 1
SUFFIX = ".asr"


def export_model(model_dir: str | os.PathLike, out: str | os.PathLike, lexicon: str | os.PathLike | None = None,
                 lm: str | os.PathLike | None = None) -> Path:
    """Pack model dir (or exp dir) `model_dir`, plus an optional lexicon and LM, into the file `out`."""
    src, out = Path(model_dir), Path(out)
    load_model_dir(src)  # only a model that loads gets packed
    decoding = {}
    extra: list[tuple[Path, str]] = []
    for what, path, member in (("lexicon", lexicon, "lexicon.txt"), ("lm", lm, None)):
        if path is None:
            continue
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such {what} file")
        member = member or f"lm{''.join(path.suffixes) or '.arpa'}"
        decoding[what] = member
        extra.append((path, member))
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "asr_version": asr.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": str(src.resolve()), "decoding": decoding,
        "decoding_sources": {what: str(path.resolve()) for what, path in (("lexicon", lexicon), ("lm", lm)) if path},
    }
    with atomic_write(out, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, yaml.safe_dump(manifest, sort_keys=False))
        for name in (CONFIG, TOKENS):
            z.write(src / name, name)
        z.write(src / WEIGHTS, WEIGHTS, compress_type=zipfile.ZIP_STORED)  # torch files are zips already
        for path, member in extra:
            z.write(path, member)
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
    missing = [n for n in (CONFIG, TOKENS, WEIGHTS, *(manifest.get("decoding") or {}).values()) if n not in names]
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
        loaded = load_model_dir(tmp, device)
    except zipfile.BadZipFile as e:
        raise ConfigError(f"{path}: damaged model file: {e}") from None
    except AsrError as e:
        raise type(e)(str(e).replace(tmp, str(path))) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise ConfigError(f"{path}: damaged model file: {str(e).splitlines()[0]}") from None
    members = manifest.get("decoding") or {}
    for name in (CONFIG, TOKENS, WEIGHTS):  # loaded now; only the lexicon and LM stay on disk
        os.unlink(os.path.join(tmp, name))
    if members:
        loaded.config["decoding"] = {**(loaded.config.get("decoding") or {}),
                                     **{what: os.path.join(tmp, m) for what, m in members.items()}}
    return loaded


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """A model dir (or exp dir) or a model file -> LoadedModel."""
    if Path(path).is_dir():
        return load_model_dir(path, device)
    return load_package(path, device)
