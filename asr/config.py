"""Typed configuration: YAML files whose mappings remember where each key was set (`Located`), `--set`
overrides, and sections (a mapping -> a dataclass) checked key by key against the dataclass's field types. Every
error is one line naming the file and line (or the `--set` item) and the key, before anything is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Iterable
from typing import TypeVar

import yaml

from asr.errors import ConfigError

T = TypeVar("T")

# YAML 1.1 (PyYAML) reads 1e-3 as a string: it wants a dot (1.0e-3). A float field takes such a string.
EXPONENT_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


class Located(dict):
    """A config mapping that remembers where each key was set: `where[key]` is 'file:line' or '--set a.b=c'."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.where: dict = {}


def located(d: dict, key, path: str) -> str:
    """'file:line: path' (or just `path` when `d` does not know where `key` was set)."""
    where = d.where.get(key) if isinstance(d, Located) else None
    return f"{where}: {path}" if where else path


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, its mappings Located."""


def _construct_located(loader: _Loader, node: yaml.MappingNode):
    data = Located()
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        data.where[loader.construct_object(key_node)] = f"{key_node.start_mark.name}:{key_node.start_mark.line + 1}"


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_located)
yaml.SafeDumper.add_representer(Located, yaml.SafeDumper.represent_dict)  # a loaded config dumps as a dict


def load_config(path: str | os.PathLike) -> Located:
    """A YAML file's mapping (empty for an empty file), each mapping in it Located."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            data = yaml.load(f, Loader=_Loader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{at}: not valid YAML: {getattr(e, 'problem', None) or str(e).splitlines()[0]}") from None
    if data is None:
        return Located()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of options, not {type(data).__name__}")
    return data


def apply_overrides(config: dict, overrides: Iterable[str]) -> dict:
    """`section.key=value` items (the value read as YAML) set on `config`, each remembered as where its key was
    set; what they name is checked with the sections (`check_sections`, `section_from_dict`)."""
    for item in overrides:
        key, eq, text = item.partition("=")
        *parents, leaf = key.split(".")
        if not eq or not all([*parents, leaf]):
            raise ConfigError(f"--set {item}: expected section.key=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item}: value not valid YAML: {getattr(e, 'problem', e)}") from None
        node = config
        for depth, name in enumerate(parents):
            if not isinstance(node.get(name, {}), dict):
                raise ConfigError(f"--set {item}: {'.'.join(parents[:depth + 1])} is a value, not a section")
            if name not in node:
                node[name] = Located()
                if isinstance(node, Located):
                    node.where[name] = f"--set {item}"
            node = node[name]
        node[leaf] = value
        if isinstance(node, Located):
            node.where[leaf] = f"--set {item}"
    return config


def _did_you_mean(name, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def check_sections(config: dict, sections: dict[str, type]) -> None:
    """ConfigError naming the first section of `config` (in file order) that is not one of `sections` (name ->
    its dataclass; a key of one is named as a hint), or whose value is not a mapping."""
    for name, options in config.items():
        if name not in sections:
            owners = [f"{s}.{name}" for s, cls in sections.items() if name in {f.name for f in dataclasses.fields(cls)}]
            hint = f"; did you mean {owners[0]}?" if owners else _did_you_mean(name, sections)
            raise ConfigError(f"{located(config, name, str(name))}: unknown section "
                              f"(known: {', '.join(sorted(sections))}){hint}")
        if options is not None and not isinstance(options, dict):
            raise ConfigError(f"{located(config, name, name)}: expected a mapping of {name} options, "
                              f"not {type(options).__name__}")


def typed_value(kind, value):
    """`value` as a field of type `kind` takes it: an int for a float (as float), a string such as 1e-3 for a
    float, never a bool for an int; None for `X | None`; for `list[X]` a list (or one value) of X; else
    ValueError."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = typing.get_args(kind)
        if value is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        for kind in kinds[:-1]:  # X | Y: the first that takes it
            try:
                return typed_value(kind, value)
            except ValueError:
                pass
        kind = kinds[-1]
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind)
        return [typed_value(item, v) for v in (value if isinstance(value, list) else [value])]
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str) and EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as YAML writes a bool
    raise ValueError(f"expected {EXPECTED.get(kind, kind.__name__)}, got {shown}")


def section_from_dict(cls: type[T], d: dict | None, section: str, choices: dict[str, tuple] | None = None) -> T:
    """`cls(**d)`, each key a field of dataclass `cls` and each value of the field's type (`typed_value`) and,
    for a key of `choices`, one of its values; else a ConfigError naming where (file:line or --set), the section
    and the key."""
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"{section}: expected a mapping of options, not {type(d).__name__}")
    kinds = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in d.items():
        if key not in fields:
            hint = _did_you_mean(key, fields) or f" (known: {', '.join(fields)})"
            raise ConfigError(f"{located(d, key, f'{section}.{key}')}: unknown {section} option{hint}")
        try:
            values[key] = typed_value(kinds[key], value)
        except ValueError as e:
            raise ConfigError(f"{located(d, key, f'{section}.{key}')}: {e}") from None
        allowed = (choices or {}).get(key)
        if allowed and values[key] not in allowed:
            raise ConfigError(f"{located(d, key, f'{section}.{key}')}: expected {' or '.join(allowed)}, "
                              f"got {values[key]!r}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad {section} options: {e}") from None
