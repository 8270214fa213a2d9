"""``python -m rescale.train MODEL ...``: dispatch to the trainer of MODEL."""

import argparse
import importlib
import sys

from . import TRAINERS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rescale.train", description="Train a learned rescaling model.")
    sub = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, module in TRAINERS.items():
        trainer = importlib.import_module(module)
        trainer.add_arguments(sub.add_parser(name, help=(trainer.__doc__ or "").strip().splitlines()[0]))
    args = parser.parse_args(argv)
    return importlib.import_module(TRAINERS[args.model]).main(args)


if __name__ == "__main__":
    sys.exit(main())
