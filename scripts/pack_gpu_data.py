"""Pack the training sets into .gpu/data/ (git-ignored) as lossless WebP, small enough to travel
with the working tree to a GPU machine (the device tool carries at most 64 MiB and does not carry
../shared). Decoding gives back the exact pixels.

    .venv/bin/python scripts/pack_gpu_data.py [--data ../shared/data] [--sets BSD200,T91]
"""

import argparse
from pathlib import Path

from PIL import Image

from rescale.train.patches import image_files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sets", default="BSD200,T91")
    ap.add_argument("--out", default=".gpu/data")
    args = ap.parse_args()
    total = 0
    for name in args.sets.split(","):
        dst = Path(args.out) / name
        dst.mkdir(parents=True, exist_ok=True)
        for src in image_files([Path(args.data) / name]):
            out = dst / (src.stem + ".webp")
            if not out.exists():
                with Image.open(src) as im:
                    im.convert("RGB").save(out, lossless=True, quality=50, method=1)
            total += out.stat().st_size
    print(f"{args.out}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
