"""The package's layering (docs/architecture.md), read from the source: which way the imports go, no
import cycle, no private name imported from another module. Function-level imports count too: a
lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Layer of each subpackage; a module may import from its own layer and the layers listed for it.
LAYERS = {
    "core": set(),
    "models": {"core"},
    "screentone": {"core"},
    "compat": {"core"},
    "package": {"core", "models"},  # rescale/__init__.py: the public names, Muller among them
    "batch": {"core", "screentone"},
    "eval": {"core", "models", "batch"},
    "train": {"core", "models", "eval"},
    "cli": {"core", "models", "screentone", "batch", "eval"},
}


def _modules() -> dict[str, Path]:
    """Module name -> file, for rescale/ and kernels/ (installed as rescale.kernels) and weights/."""
    found = {}
    for top, package in (
        (ROOT / "rescale", "rescale"),
        (ROOT / "kernels", "rescale.kernels"),
        (ROOT / "weights", "rescale.weights"),
    ):
        for path in top.rglob("*.py"):
            parts = list(path.relative_to(top).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    if module == "rescale":
        return "package"
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "core"  # the package, the top-level modules of rescale/, rescale.kernels and rescale.weights


def _imports(module: str) -> list[tuple[str, str, int]]:
    """``(imported module, imported name or "", line)`` of every import in ``module``, resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # `from pkg import submodule` imports the submodule; `from mod import name`, a name.
                out.append((sub, "", node.lineno) if sub in MODULES else (base, alias.name, node.lineno))
    return [(m, name, line) for m, name, line in out if m == "rescale" or m.startswith("rescale.")]


GRAPH = {m: sorted({target for target, _, _ in _imports(m) if target in MODULES and target != m}) for m in MODULES}


def test_the_tree_is_read():
    assert {
        "rescale.api",
        "rescale.batch.job",
        "rescale.eval.protocol",
        "rescale.cli.resize",
        "rescale.kernels.cpu",
    } <= MODULES.keys()
    assert "rescale.containers" in GRAPH["rescale.api"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    own = _layer(module)
    allowed = LAYERS[own] | {own}
    wrong = [
        f"{target} (line {line})"
        for target, _, line in _imports(module)
        if target in MODULES and _layer(target) not in allowed
    ]
    assert not wrong, f"{module} ({own}) imports from a layer above or beside it: {wrong}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_from_another_module(module):
    private = [
        f"{name} from {target} (line {line})"
        for target, name, line in _imports(module)
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not private, f"{module} imports private names: {private}"


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in GRAPH[m]:
            if n in _package_parents(m):  # importing a parent package runs before the child anyway
                continue
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


def _package_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}
