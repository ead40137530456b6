"""The device a command runs on (`--device`), checked before anything is loaded or written: `gpu` is taken for
`cuda`; a device this machine lacks, or a name torch does not know, is a one-line ConfigError."""

from __future__ import annotations

import torch

from asr.errors import ConfigError

KNOWN = "cpu, cuda, cuda:N (or gpu, gpu:N) and mps"


def check_device(name: str | None, option: str = "--device") -> str | None:
    """`name` as torch spells it (None stays None: the caller's default); ConfigError naming `option` when
    there is no such device here."""
    if name is None:
        return None
    spec = "cuda" + name[3:] if name.startswith("gpu") else name
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"{option} {name}: unknown device (known: {KNOWN})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{option} {name}: no CUDA device here (torch.cuda.is_available() is False)")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{option} {name}: no such CUDA device (this machine has {count}: cuda:0 to "
                              f"cuda:{count - 1})")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"{option} {name}: no MPS device here (torch.backends.mps.is_available() is False)")
    elif device.type != "cpu":
        raise ConfigError(f"{option} {name}: unknown device (known: {KNOWN})")
    return spec
