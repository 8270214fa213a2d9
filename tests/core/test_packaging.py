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


#: Modules of the plain install (no extra): PIL images, numpy arrays and files with every filter, through
#: the API and the CLI. Their module-level imports must be core dependencies; everything else may
#: also use the torch extra's (test_fastpath.py runs this path with torch blocked).
PLAIN = (
    "rescale/__init__.py",
    "rescale/version.py",
    "rescale/api.py",
    "rescale/arrays.py",
    "rescale/containers.py",
    "rescale/fastpath.py",
    "rescale/filters.py",
    "rescale/linear.py",
    "rescale/methods.py",
    "rescale/tables.py",
    "rescale/transfer.py",
    "kernels/__init__.py",
    "kernels/cpu.py",
    "kernels/cpu_linear.py",
    "kernels/cpu_linear_loops.py",
    "kernels/cpu_linear_u8.py",
    "kernels/cpu_loops.py",
    "kernels/cpu_u8.py",
    "rescale/batch/__init__.py",
    "rescale/batch/files.py",
    "rescale/batch/job.py",
    "rescale/batch/plan.py",
    "rescale/batch/pool.py",
    "rescale/batch/provenance.py",
    "rescale/batch/result.py",
    "rescale/screentone/__init__.py",
    "rescale/screentone/pages.py",
    "rescale/cli/__init__.py",
    "rescale/cli/common.py",
    "rescale/cli/down.py",
    "rescale/cli/eval.py",
    "rescale/cli/resize.py",
    "rescale/cli/runner.py",
    "rescale/cli/up.py",
)


def _requirement_names(requirements) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0].lower() for d in requirements}


def test_third_party_imports_of_the_package_are_declared():
    # Imports at module level run on `import rescale.x`: they must be core dependencies, or for
    # modules outside the plain install, packages of the torch extra. Imports inside functions
    # (matplotlib, lpips, ray, ...) belong to extras and are loaded on demand.
    core = _requirement_names(PYPROJECT["project"]["dependencies"])
    torch_extra = _requirement_names(PYPROJECT["project"]["optional-dependencies"]["torch"])
    module_of = {"pil": "pillow", "yaml": "pyyaml"}
    local = {"rescale", "kernels"}
    missing = {}
    for path in [*(ROOT / "rescale").rglob("*.py"), *(ROOT / "kernels").rglob("*.py")]:
        name = str(path.relative_to(ROOT))
        declared = core if name in PLAIN else core | torch_extra
        for node in ast.parse(path.read_text()).body:  # module level only
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for imported in names:
                top = imported.split(".")[0]
                dist = module_of.get(top.lower(), top.lower())
                if top not in local and top not in sys.stdlib_module_names and dist not in declared:
                    missing.setdefault(dist, []).append(name)
    assert not missing, f"imported at module level but not in the dependencies they may use: {missing}"


def test_plain_modules_exist():
    assert all((ROOT / name).is_file() for name in PLAIN)


def test_torch_is_an_extra_with_ranges():
    """A library installs next to an existing stack: no exact pins, torch only in the extra."""
    core = PYPROJECT["project"]["dependencies"]
    assert not _requirement_names(core) & {"torch", "torchvision", "triton"}
    for requirement in [*core, *PYPROJECT["project"]["optional-dependencies"]["torch"]]:
        assert "==" not in requirement.split(";")[0], requirement  # markers may compare
