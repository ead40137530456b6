"""Typed configuration sections: a YAML mapping -> a dataclass, refusing unknown keys by name."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from asr.errors import ConfigError

T = TypeVar("T")


def section_from_dict(cls: type[T], d: dict | None, section: str) -> T:
    """`cls(**d)`, with a ConfigError naming the section's unknown options or bad values."""
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"{section} options must be a mapping, not {type(d).__name__}")
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {section} options: {', '.join(sorted(unknown))}")
    try:
        return cls(**d)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad {section} options: {e}") from None
