"""Run a benchmark script of this checkout against the ``rescale`` package of another one.

    git archive main | tar -x -C /tmp/before
    .venv/bin/python bench/on_checkout.py /tmp/before bench/screentone_pages.py --repeat 3

Before/after timings belong in one session on one machine (the load changes from hour to hour);
this runs the same benchmark on the code of another commit. ``PYTHONPATH`` alone does not do it:
the editable install's import hook answers for ``rescale`` first. This drops that hook, puts the
other checkout first on the path, and links its ``kernels`` and ``weights`` folders under its
``rescale`` folder (where the install maps them) when they are not there yet.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__.split("\n\n")[1])
    root, script = Path(sys.argv[1]).resolve(), sys.argv[2]
    if not (root / "rescale" / "__init__.py").is_file():
        raise SystemExit(f"no rescale package in {root} (extract a commit there: git archive REV | tar -x -C DIR)")
    for name in ("kernels", "weights"):
        link = root / "rescale" / name
        if (root / name).is_dir() and not link.exists():
            link.symlink_to(root / name, target_is_directory=True)
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, str(root))
    sys.argv = sys.argv[2:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
