"""What a user meets first: start-up, one file, a folder, beside Pillow (and vipsthumbnail / ImageMagick
when installed), printed as a markdown table.

    .venv/bin/python bench/startup.py [--repeat 5] [--folder DIR] [--skip-cold]

Each row is a command run as a new process (the way a user runs it), ``--repeat`` times in
rounds, the competitors one after another within a round so that a burst of load from other
processes hits them alike; the table gives median wall times, the ratio "rescale / competitor"
(below 1: rescale is faster) and the peak resident memory of the process.

Rows:

* ``rescale --version`` (and ``python -c pass``: the interpreter alone);
* one file: a 480x320 and a 3000x2000 JPEG halved with bicubic, ``rescale resize IN -o OUT --scale
  0.5`` beside the Pillow one-liner (open, ``resize``, save at quality 90), ``vipsthumbnail`` and
  ``convert -resize 50%`` where installed;
* a 100-file folder (BSD100, re-encoded as JPEG q90 into a temporary folder, or ``--folder``):
  halved, beside a one-process Pillow loop; and as 120-pixel-wide thumbnails (``--width 120``,
  decoded reduced: ``--fast-decode``) beside a Pillow loop with ``Image.thumbnail`` (also a reduced
  decode) and ``vipsthumbnail``.

Kernel cache: ``warm`` runs use a numba cache filled beforehand; ``cold`` ones an empty cache
(``NUMBA_CACHE_DIR`` pointing to a new folder), as right after installing. Jobs small enough for
Pillow's resize (``rescale.fastpath``) never load numba, so their two rows agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESCALE_DATA", ROOT.parent / "shared" / "data"))
PYTHON = sys.executable
RESCALE = [str(Path(PYTHON).parent / "rescale")] if (Path(PYTHON).parent / "rescale").exists() else [PYTHON, "cli.py"]

PILLOW_ONE = (
    "import sys; from PIL import Image; im = Image.open(sys.argv[1]); "
    "im.resize((round(im.width / 2), round(im.height / 2)), Image.Resampling.BICUBIC).save(sys.argv[2], quality=90)"
)
PILLOW_LOOP = """
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[2])
for p in sorted(Path(sys.argv[1]).glob("*.jpg")):
    im = Image.open(p)
    if sys.argv[3] == "half":
        im = im.resize((round(im.width / 2), round(im.height / 2)), Image.Resampling.BICUBIC)
    else:
        im.thumbnail((int(sys.argv[3]), 1 << 20), Image.Resampling.BICUBIC)
    im.save(out / p.name, quality=90)
"""


TIME = shutil.which("time") or "/usr/bin/time"


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of ``cmd`` run as a new process. The peak comes from
    GNU time (``%M``): a child's own rusage would include this process's size at the fork."""
    with tempfile.NamedTemporaryFile("r") as peak:
        timed = [TIME, "-f", "%M", "-o", peak.name, *cmd] if os.path.exists(TIME) else cmd
        t0 = time.perf_counter()
        done = subprocess.run(timed, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()}")
        text = peak.read().strip().splitlines()
    return seconds, int(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan")


def make_inputs(work: Path, folder: Path | None) -> tuple[Path, Path, Path]:
    """A small and a large JPEG photo and a folder of 100 JPEGs."""
    if folder is None:
        if not (DATA / "BSD100").is_dir():
            sys.exit(f"no BSD100 under {DATA}: set RESCALE_DATA or pass --folder")
        folder = work / "bsd100"
        folder.mkdir()
        for p in sorted((DATA / "BSD100").glob("*.png")):
            Image.open(p).convert("RGB").save(folder / f"{p.stem}.jpg", quality=90)
    small = sorted(folder.glob("*.jpg"))[0]
    # 3000x2000: a photo enlarged, with sensor-like noise so that it does not compress to nothing.
    big = Image.open(small).convert("RGB").resize((3000, 2000), Image.Resampling.LANCZOS)
    noisy = np.asarray(big).astype(np.int16) + np.random.default_rng(0).integers(-6, 7, (2000, 3000, 3))
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(work / "big.jpg", quality=90)
    return small, work / "big.jpg", folder


def rows(work: Path, small: Path, big: Path, folder: Path, cold: bool) -> list[tuple[str, dict[str, list[str]]]]:
    """(case, {name: command}) with rescale first in each case."""
    vips, convert = shutil.which("vipsthumbnail"), shutil.which("convert")
    has_magick = (
        convert is not None
        and "ImageMagick" in subprocess.run([convert, "-version"], capture_output=True, text=True).stdout
    )
    out = work / "out"
    cases = [("start-up", {"rescale --version": [*RESCALE, "--version"], "python -c pass": [PYTHON, "-c", "pass"]})]
    for label, src in (("480x320", small), ("3000x2000", big)):
        w = Image.open(src).width
        case = {
            "rescale": [
                *RESCALE,
                "resize",
                str(src),
                "-o",
                str(out / "one.jpg"),
                "--scale",
                "0.5",
                "--overwrite",
                "-q",
            ],
            "Pillow one-liner": [PYTHON, "-c", PILLOW_ONE, str(src), str(out / "pil.jpg")],
        }
        if vips:
            case["vipsthumbnail"] = [vips, str(src), "-s", f"{round(w / 2)}x", "-o", str(out / "vips.jpg[Q=90]")]
        if has_magick:
            case["convert"] = [convert, str(src), "-resize", "50%", "-quality", "90", str(out / "im.jpg")]
        cases.append((f"one {label} JPEG, x0.5", case))
    folder_out = out / "folder"
    cases.append(
        (
            "100 JPEGs (480x320), x0.5",
            {
                "rescale": [
                    *RESCALE,
                    "resize",
                    str(folder),
                    "-o",
                    str(folder_out),
                    "--scale",
                    "0.5",
                    "-q",
                ],
                "Pillow loop": [PYTHON, "-c", PILLOW_LOOP, str(folder), str(out / "pl"), "half"],
            },
        )
    )
    thumbs = {
        "rescale": [*RESCALE, "resize", str(folder), "-o", str(out / "thumbs"), "--width", "120", "-q"],
        "Pillow loop (thumbnail)": [PYTHON, "-c", PILLOW_LOOP, str(folder), str(out / "pt"), "120"],
    }
    if vips:
        files = [str(p) for p in sorted(folder.glob("*.jpg"))]
        thumbs["vipsthumbnail"] = [vips, *files, "-s", "120x", "-o", str(out / "vt" / "%s.jpg[Q=90]")]
    cases.append(("100 JPEGs, 120 px wide thumbnails", thumbs))
    empty_output_folders(out)
    return cases


def empty_output_folders(out: Path) -> None:
    """Fresh, empty output folders for the folder rows: each run writes new files, as a user's
    first run into a new folder does (replacing files costs rescale an fsync each)."""
    for d in ("folder", "pl", "pt", "vt", "thumbs"):
        shutil.rmtree(out / d, ignore_errors=True)
        (out / d).mkdir(parents=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--folder", type=Path, help="a folder of JPEGs (default: BSD100 re-encoded)")
    parser.add_argument("--skip-cold", action="store_true", help="no runs with an empty kernel cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small, big, folder = make_inputs(work, args.folder)
        warm_cache = work / "numba-warm"
        # Bytecode is written and used, as for an installed package (pip compiles it): a session
        # with PYTHONDONTWRITEBYTECODE would compile our modules in every run.
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env_warm = {**base, "NUMBA_CACHE_DIR": str(warm_cache)}
        cases = rows(work, small, big, folder, cold=False)
        for _, case in cases:  # fill the warm cache (and the OS file cache)
            for cmd in case.values():
                empty_output_folders(work / "out")
                measure(cmd, env_warm)
        print(
            f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; {args.repeat} rounds"
        )
        print()
        print("| case | command | cache | median s | rescale / it | peak MiB |")
        print("|---|---|---|---|---|---|")
        for label, case in cases:
            results: dict[str, list] = {name: [] for name in case}
            cold: list = []
            for _ in range(args.repeat):
                for name, cmd in case.items():
                    empty_output_folders(work / "out")
                    results[name].append(measure(cmd, env_warm))
                if not args.skip_cold and label != "start-up":
                    fresh = work / f"numba-cold-{len(cold)}"
                    empty_output_folders(work / "out")
                    cold.append(
                        measure(
                            case["rescale" if "rescale" in case else "rescale --version"],
                            {**base, "NUMBA_CACHE_DIR": str(fresh)},
                        )
                    )
                    shutil.rmtree(fresh, ignore_errors=True)
            ours = statistics.median(t for t, _ in next(iter(results.values())))
            for name, runs in results.items():
                median = statistics.median(t for t, _ in runs)
                ratio = "" if name in ("rescale", "rescale --version") else f"{ours / median:.2f}"
                cache = "warm" if name.startswith("rescale") else ""
                print(f"| {label} | {name} | {cache} | {median:.3f} | {ratio} | {max(m for _, m in runs):.0f} |")
            if cold:
                median = statistics.median(t for t, _ in cold)
                print(f"| {label} | rescale | cold | {median:.3f} | | {max(m for _, m in cold):.0f} |")
        print()
        print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
