"""The ``rescale`` command (also ``python cli.py``): a dispatcher over subcommand modules.

Adding a subcommand is one line in :data:`SUBCOMMANDS`: a module with ``add_parser(subparsers)``,
which adds its parser with ``subparsers.add_parser(name, ...)``, and ``run(args) -> int``, the exit
code. A module may add several subcommands (each name listed with the module). Only the module of
the subcommand being run is imported (all of them for ``--help``), and a module that does not
exist yet (or cannot be imported) is left out of the listing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..version import __version__

__all__ = ["main", "SUBCOMMANDS"]

#: (name, module) of each subcommand, in the order ``rescale --help`` lists them.
SUBCOMMANDS = [
    ("resize", "rescale.cli.resize"),
    ("down", "rescale.cli.down"),
    ("up", "rescale.cli.up"),
    ("eval", "rescale.cli.eval"),
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _usable_streams()
    names = [name for name, _ in SUBCOMMANDS]
    wanted = [argv[0]] if argv and argv[0] in names else names
    if "--version" in argv and len(wanted) > 1:  # before any subcommand is imported: instant
        print(f"rescale {__version__}")
        return 0
    parser = argparse.ArgumentParser(prog="rescale", description="Exact, fast, differentiable image rescaling.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    runners = {}
    added_modules = set()
    for name, module_name in SUBCOMMANDS:
        if name not in wanted or module_name in added_modules:
            continue
        added_modules.add(module_name)
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            # Not written yet, or (in the listing only) missing a dependency: leave it out. A
            # subcommand asked for by name that fails to import shows why.
            if e.name == module_name or len(wanted) > 1:
                continue
            raise
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        for added in set(subparsers.choices) - before:  # its name and any aliases
            runners[added] = module.run

    args = parser.parse_args(argv)
    try:
        return runners[args.command](args)
    except BrokenPipeError:  # e.g. `rescale resize ... --json | head`: stop quietly, like other tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _usable_streams() -> None:
    """Output that cannot fail on what it prints: a stream closed when the program started (``2>&-``;
    Python then has None) writes nowhere, and characters the stream's encoding lacks (a non-UTF-8
    file name under ``PYTHONIOENCODING=utf-8``) are escaped instead of stopping the run."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w"))
        elif hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
