"""``python -m rescale.train MODEL ...``: dispatch to the trainer of MODEL (only that one is imported)."""

import argparse
import importlib
import sys

from . import TRAINERS


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in TRAINERS:
        parser = argparse.ArgumentParser(prog="python -m rescale.train", description="Train a learned rescaling model.")
        parser.add_argument(
            "model", choices=sorted(TRAINERS), help="which model to train (then its own options, see MODEL --help)"
        )
        parser.parse_args(argv[:1])  # prints usage and exits
        return 2
    trainer = importlib.import_module(TRAINERS[argv[0]])
    parser = argparse.ArgumentParser(
        prog=f"python -m rescale.train {argv[0]}", description=(trainer.__doc__ or "").strip().splitlines()[0]
    )
    trainer.add_arguments(parser)
    return trainer.main(parser.parse_args(argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
