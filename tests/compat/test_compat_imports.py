"""rescale.compat stays torch-free: neither its modules nor the rescale modules they import (their
module-level imports, followed transitively; the package's own ``__init__`` aside) import torch."""

from __future__ import annotations

import ast
from pathlib import Path

RESCALE = Path(__file__).resolve().parents[2] / "rescale"


def _module_level_imports(path: Path, package: str) -> set[str]:
    found = set()
    for node in ast.parse(path.read_text()).body:  # top-level statements only: lazy imports are allowed
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _path(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (RESCALE / rel.with_suffix(".py"), RESCALE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_compat_does_not_import_torch():
    todo, seen, third_party = ["rescale.compat"], set(), set()
    while todo:
        module = todo.pop()
        path = _path(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for name in _module_level_imports(path, package):
            if name.startswith("rescale.") and name != "rescale":
                todo.append(name)
            elif not name.startswith("rescale"):
                third_party.add(name.split(".")[0])
    assert {"rescale.compat.matlab", "rescale.compat.opencv", "rescale.tables"} <= seen
    assert "torch" not in third_party, sorted(seen)
