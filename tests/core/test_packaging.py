"""The installed distribution ships every subpackage and declares what the package imports.

An editable install (as in development and CI) finds modules by path, so a subpackage missing from
``pyproject.toml`` only breaks a real install: these tests read the declaration itself.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed():
    setup = PYPROJECT["tool"]["setuptools"]
    dirs = {name: ROOT / path for name, path in setup["package-dir"].items()}
    listed = set(setup["packages"])
    found = {
        "rescale." + ".".join(p.parent.relative_to(ROOT / "rescale").parts)
        for p in (ROOT / "rescale").rglob("*/__init__.py")
    }
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
    for name in listed:  # each listed package exists where it is said to be
        assert (dirs.get(name) or ROOT / name.replace(".", "/")).is_dir(), name


def test_third_party_imports_of_the_package_are_declared():
    # Imports at module level run on `import rescale.x`: they must be core dependencies. Imports
    # inside functions (matplotlib, lpips, ray, ...) belong to extras and are loaded on demand.
    declared = {re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    module_of = {"pil": "pillow", "yaml": "pyyaml"}
    local = {"rescale", "kernels"}
    missing = {}
    for path in [*(ROOT / "rescale").rglob("*.py"), *(ROOT / "kernels").rglob("*.py")]:
        for node in ast.parse(path.read_text()).body:  # module level only
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                top = name.split(".")[0]
                dist = module_of.get(top.lower(), top.lower())
                if top not in local and top not in sys.stdlib_module_names and dist not in declared:
                    missing.setdefault(dist, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported at module level but not in [project] dependencies: {missing}"
