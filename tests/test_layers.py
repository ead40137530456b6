"""The package layers of asr/ (docs/design.md): a subpackage imports only from layers below its own, so data flows
one way and no two subpackages import each other. Function-level imports count too."""

from __future__ import annotations

import ast
from pathlib import Path

ASR = Path(__file__).resolve().parents[1] / "asr"

# Lowest first; a module may import from its own layer's other entries only where listed as lower here.
LAYERS = [
    ["errors"],
    ["fileio", "config", "device"],
    ["audio", "parallel"],
    ["data"],
    ["text", "features"],
    ["model", "scoring"],
    ["decoding"],
    ["training", "export"],
    ["transcribe", "runtime"],
    ["serve"],
    ["cli", "__init__"],
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def unit(module: str) -> str | None:
    """The top-level unit of asr a dotted module name belongs to (`asr.data.subset` -> `data`)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "asr" and len(parts) > 1 else None


def imports() -> list[tuple[str, str, str]]:
    """(importing unit, imported unit, where) for every import of another unit of asr."""
    edges = []
    for path in sorted(ASR.rglob("*.py")):
        rel = path.relative_to(ASR).with_suffix("")
        src = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                dst = unit(name)
                if dst and dst != src:
                    edges.append((src, dst, f"asr/{'/'.join(rel.parts)}.py:{node.lineno} imports {name}"))
    return edges


def test_every_unit_of_asr_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in ASR.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert units - set(RANK) == set(), "add the new module or package to LAYERS (and docs/design.md)"


def test_imports_point_down_the_layers():
    upward = [where for src, dst, where in imports() if RANK[dst] >= RANK[src]]
    assert upward == []


def test_unit_detection_sees_function_level_imports():
    edges = imports()
    assert any(src == "cli" and dst == "training" for src, dst, _ in edges)  # imported inside the train command
