"""``python cli.py ...`` is the ``rescale`` command (see rescale/cli/)."""

from rescale.cli import main

if __name__ == "__main__":  # worker processes started by forkserver/spawn import this file again
    raise SystemExit(main())
