"""Throughput of ``rescale resize`` on a folder of JPEGs beside other ways to do the same job.

    .venv/bin/python bench/cli.py [--count 100] [--workers N] [--scale 0.5] [--keep DIR]

Generates ``--count`` photo-like 2-4 MP JPEGs (four sizes, even dimensions so every tool agrees on
the output size) in a temporary folder, then rescales all of them to JPEG quality 90 with a
3-lobe Lanczos filter at ``--scale`` with:

- ``rescale resize`` (this CLI, ``--workers N``; and ``--device cuda`` when a GPU is there),
- ``rescale resize --engine ray`` with ``--workers N`` on a Ray instance it starts on this machine
  (start-up included: the overhead of the Ray engine on one machine), when Ray is installed,
- a plain Pillow loop (one process: open, exif_transpose, resize LANCZOS, save),
- the same Pillow code on a pool of N processes,
- ``vips resize --kernel lanczos3`` per file and ``vipsthumbnail`` (libvips' own tool, which
  shrinks JPEGs while decoding: faster, not the same filter), when installed,
- ImageMagick ``mogrify -filter Lanczos -resize``, when installed.

Each row is the wall time of the whole folder (process start-up included) and input megapixels
per second; ``x rescale`` is the tool's time over the rescale CLI's (above 1: rescale is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(1800, 1200), (2048, 1536), (2304, 1536), (2400, 1600)]  # 2.2 to 3.8 MP


def make_jpegs(folder: Path, count: int) -> float:
    """Photo-like content (smooth fields, edges, sensor noise); returns the total megapixels."""
    rng = np.random.default_rng(0)
    total = 0
    for i in range(count):
        w, h = SIZES[i % len(SIZES)]
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack(
            [np.sin(x / rng.uniform(40, 200) + c) * np.cos(y / rng.uniform(40, 200) - c) for c in (0.0, 1.0, 2.0)], -1
        )
        img = (base * 90 + 128 + rng.normal(0, 6, (h, w, 3))).clip(0, 255).astype(np.uint8)
        img[h // 3 : h // 2, w // 4 : w // 2] = rng.integers(0, 256, 3)  # a hard-edged patch
        Image.fromarray(img).save(folder / f"photo{i:03d}.jpg", quality=90)
        total += w * h
    return total / 1e6


def pillow_one(args: tuple[Path, Path, float]) -> None:
    src, out, scale = args
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im)
        size = (max(1, int(im.width * scale + 0.5)), max(1, int(im.height * scale + 0.5)))
        im.resize(size, Image.Resampling.LANCZOS).save(out / src.name, quality=90)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    )
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--keep", type=Path, help="generate into (and reuse) this folder instead of a temporary one")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rescale-bench-"))
    src = args.keep or tmp / "in"
    src.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.jpg"))
    if len(files) != args.count:
        for f in files:
            f.unlink()
        megapixels = make_jpegs(src, args.count)
        files = sorted(src.glob("*.jpg"))
    else:
        megapixels = sum(Image.open(f).width * Image.open(f).height for f in files) / 1e6
    pct = f"{args.scale * 100:g}%"

    rows: list[tuple[str, float]] = []

    def bench(name: str, fn) -> None:
        out = Path(tempfile.mkdtemp(dir=tmp))
        try:
            seconds = timed(lambda: fn(out))
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"{name}: failed ({getattr(e, 'stderr', b'') or e})", file=sys.stderr)
            return
        produced = sorted(out.glob("*.jpg"))
        assert len(produced) == len(files), f"{name} wrote {len(produced)} of {len(files)} files"
        with Image.open(produced[0]) as a, Image.open(files[0]) as b:
            expect = (int(b.width * args.scale + 0.5), int(b.height * args.scale + 0.5))
            assert a.size == expect, f"{name}: {a.size} != {expect}"
        rows.append((name, seconds))
        shutil.rmtree(out)

    cli = [
        sys.executable,
        str(ROOT / "cli.py"),
        "resize",
        str(src),
        "--scale",
        str(args.scale),
        "--method",
        "lanczos",
        "--quality",
        "90",
        "--quiet",
        "--workers",
        str(args.workers),
    ]
    import torch

    # Untimed warm-up: the first run on a machine compiles the CPU loops (numba) and GPU kernels, then caches them.
    for device in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        run([*cli[:3], str(files[0]), *cli[4:], "-o", str(tmp / f"warmup-{device}"), "--device", device])
    tiny = tmp / "tiny"
    tiny.mkdir()
    Image.new("RGB", (64, 48)).save(tiny / "tiny.jpg")
    startup = timed(lambda: run([*cli[:3], str(tiny / "tiny.jpg"), *cli[4:], "-o", str(tmp / "tiny-out")]))
    has_ray = importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None
    if has_ray:
        startup_ray = timed(
            lambda: run(
                [*cli[:3], str(tiny / "tiny.jpg"), *cli[4:], "-o", str(tmp / "tiny-out-ray"), "--engine", "ray"]
            )
        )
    bench(f"rescale resize --workers {args.workers}", lambda out: run([*cli, "-o", str(out)]))
    if torch.cuda.is_available():
        bench(
            f"rescale resize --device cuda --workers {args.workers}",
            lambda out: run([*cli, "-o", str(out), "--device", "cuda"]),
        )
    if has_ray:
        bench(
            f"rescale resize --engine ray --workers {args.workers}",
            lambda out: run([*cli, "-o", str(out), "--engine", "ray"]),
        )
    bench("Pillow loop (1 process)", lambda out: [pillow_one((f, out, args.scale)) for f in files])

    def pillow_pool(out):
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(pillow_one, [(f, out, args.scale) for f in files], chunksize=4))

    bench(f"Pillow, {args.workers} processes", pillow_pool)
    if shutil.which("vips"):
        bench(
            "vips resize --kernel lanczos3 (per file)",
            lambda out: [
                run(["vips", "resize", str(f), f"{out / f.name}[Q=90]", str(args.scale), "--kernel", "lanczos3"])
                for f in files
            ],
        )
    if shutil.which("vipsthumbnail"):

        def vipsthumbnail(out):
            for w, h in SIZES:  # one call per input size, with the exact output size forced
                group = [str(f) for f in files if Image.open(f).size == (w, h)]
                if group:
                    run(
                        [
                            "vipsthumbnail",
                            "--size",
                            f"{int(w * args.scale + 0.5)}x{int(h * args.scale + 0.5)}!",
                            "-o",
                            f"{out}/%s.jpg[Q=90]",
                            *group,
                        ]
                    )

        bench("vipsthumbnail (shrink-on-load)", vipsthumbnail)
    if (
        shutil.which("mogrify")
        and "ImageMagick" in subprocess.run(["mogrify", "-version"], capture_output=True, text=True).stdout
    ):
        bench(
            "ImageMagick mogrify -filter Lanczos",
            lambda out: run(
                ["mogrify", "-path", str(out), "-filter", "Lanczos", "-resize", pct, "-quality", "90", *map(str, files)]
            ),
        )

    shutil.rmtree(tmp)
    ours = rows[0][1]
    print(
        f"{len(files)} JPEGs, {megapixels:.0f} MP in, scale {args.scale}, Lanczos-3, JPEG q90 out; "
        f"{args.workers} workers; "
        f"{os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    print(f"rescale resize start-up (one 64x48 file, interpreter and imports included): {startup:.2f} s")
    if has_ray:
        print(
            "rescale resize --engine ray start-up (the same file, a local Ray instance started and stopped): "
            f"{startup_ray:.2f} s"
        )
    print(f"{'tool':46s} {'seconds':>8s} {'MP/s':>7s} {'x rescale':>9s}")
    for name, seconds in rows:
        print(f"{name:46s} {seconds:8.2f} {megapixels / seconds:7.1f} {seconds / ours:9.2f}")


if __name__ == "__main__":
    main()
