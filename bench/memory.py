"""Peak resident memory of the memory-sensitive cases of issue 16, each in a fresh process.

    .venv/bin/python bench/memory.py [--only NAME ...] [--record-size 16384] [--json]
    .venv/bin/python bench/memory.py --costs   # the per-sample costs of rescale.batch.budget

Every scenario runs in its own Python process, so no allocation of one scenario is counted in
another and an allocation that fails cannot take the benchmark down:

- **API scenarios** (``rgba_8000``, ``pillow_rgba_8000``, ``rgb_8000``, ``pillow_rgb_8000``, the
  ``guard_*`` cases) measure themselves: ``before`` is the resident set (``VmRSS``) once the input
  is made and the kernels are loaded, ``peak`` the process's high-water mark (``ru_maxrss``) after
  the call; ``+MB`` is ``peak - before``, what the call itself needed. ``rgba_8000`` is the
  scenario of the issue (an RGBA 4000x4000 image to 8000x8000, bicubic) beside Pillow's ``resize``
  of the same image; the ``guard_*`` cases are the byte guard of ``rescale.rescale`` (refused
  before allocating, or how far they got) and its argument checks.
- **CLI scenarios** (``up_*``) run ``rescale up`` on crafted 1x1 files whose size record asks for a
  ``--record-size`` square (the issue's 16384 by default): RGBA and RGB PNGs (text chunks), a float
  TIFF (EXIF), two RGBA files with ``--workers 2``, and the same with ``--max-memory 6G``. A
  thread samples the resident memory of the command's whole process tree every 5 ms (``VmRSS`` of
  the process and its descendants, summed): ``peak`` is the largest sum, so ``--workers 2``
  counts both workers; ``before`` and ``+MB`` are against ``up_tiny``, the same command on a file
  that asks for 2x2 (the interpreter and its imports, about 0.8 GB, with a noise of about 0.1 GB
  from the import-time transient). ``up_legit`` is a real round trip (a 1000x750 photo made by
  ``rescale down --scale 0.5``, restored), which the guards must let through.
- **Costs** (``--costs``, ``cost_*``): the working memory of one call per input and per output
  sample (one channel of one pixel) for filters, networks and screentone, from which
  :data:`rescale.batch.budget.COSTS` is rounded up.

Run it before and after a change on the same machine and compare the tables; the numbers in
``docs/reliability.md`` came from this script with the commands shown there. A ``--limit-gb``
address-space limit (default: the machine's RAM) is set in every child so that a case which tries
to allocate far beyond the machine fails at once instead of driving it into swap.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20


# --- measuring --------------------------------------------------------------------------------------


def _vm_rss(pid: int | str = "self") -> int:
    """Resident bytes of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return kids


def _tree_rss(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _vm_rss(p)
        todo += _children(p)
    return total


def run_tree(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd`` and sample the resident memory of its process tree; ``{"peak", "rc", "stderr"}``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    streams: dict = {}
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.005)

    def read(name):
        streams[name] = getattr(proc, name).read()

    threads = [
        threading.Thread(target=f, args=a, daemon=True)
        for f, a in ((sample, ()), (read, ("stdout",)), (read, ("stderr",)))
    ]
    for t in threads:
        t.start()
    # wait4, not Popen.wait: its rusage is the exact high-water mark of the largest process of the tree
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    for t in threads:
        t.join()
    return {
        "peak": peak,
        "max_process": usage.ru_maxrss * 1024,
        "rc": proc.returncode,
        "stdout": streams["stdout"],
        "stderr": streams["stderr"],
    }


# --- API scenarios (run in the child) ---------------------------------------------------------------


def _rgba(n: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (n, n, 4), dtype=np.uint8), "RGBA")


def _api_scenarios():
    import numpy as np
    import torch
    from PIL import Image

    import rescale

    return {
        "rgba_8000": (lambda: _rgba(4000), lambda im: rescale.rescale(im, size=(8000, 8000))),
        "pillow_rgba_8000": (lambda: _rgba(4000), lambda im: im.resize((8000, 8000), Image.Resampling.BICUBIC)),
        "rgb_8000": (lambda: _rgba(4000).convert("RGB"), lambda im: rescale.rescale(im, size=(8000, 8000))),
        "pillow_rgb_8000": (
            lambda: _rgba(4000).convert("RGB"),
            lambda im: im.resize((8000, 8000), Image.Resampling.BICUBIC),
        ),
        "guard_channels64": (
            lambda: np.zeros((1, 1, 64)),
            lambda a: rescale.rescale(a, size=(16384, 16384)),
        ),
        "guard_batch1000": (
            lambda: torch.zeros(1000, 3, 1, 1, dtype=torch.uint8),
            lambda t: rescale.rescale(t, size=(16384, 16384)),
        ),
        "guard_nan": (
            lambda: np.zeros((4, 4, 3), np.uint8),
            lambda a: rescale.rescale(a, 2, max_pixels=float("nan")),
        ),
        "guard_str": (lambda: np.zeros((4, 4, 3), np.uint8), lambda a: rescale.rescale(a, 2, max_pixels="x")),
    }


def _warm_up() -> None:
    """The first call of each kind loads kernels (about 130 MB): done before measuring."""
    import numpy as np
    import torch

    import rescale

    for img in (_rgba(8), _rgba(8).convert("RGB"), np.zeros((2, 2, 64)), torch.zeros(2, 3, 2, 2, dtype=torch.uint8)):
        for size in ((16, 16), (4, 4)):
            rescale.rescale(img, size=size)


#: Per-sample costs behind rescale.batch.budget.COSTS: (mode, input size, output size, call, method).
COST_CASES = {
    "cost_filter_rgb_up4": ("RGB", (1000, 750), (4000, 3000), "rescale", "bicubic"),
    "cost_filter_rgba_up4": ("RGBA", (1000, 750), (4000, 3000), "rescale", "bicubic"),
    "cost_filter_rgba_down2": ("RGBA", (4000, 3000), (2000, 1500), "rescale", "bicubic"),
    "cost_irn_up4": ("RGB", (500, 375), (2000, 1500), "up", "irn"),
    "cost_iarn_up3": ("RGB", (667, 500), (2000, 1500), "up", "iarn"),
    "cost_espcn_up3": ("RGB", (667, 500), (2000, 1500), "up", "espcn"),
    "cost_irn_down2": ("RGB", (2000, 1500), (1000, 750), "down", "irn"),
    "cost_iarn_down3": ("RGB", (2000, 1500), (667, 500), "down", "iarn"),
    "cost_screentone_down2": ("L", (1000, 1400), (500, 700), "rescale", "screentone"),
    "cost_screentone_up2": ("L", (500, 700), (1000, 1400), "rescale", "screentone"),
}


def cost_child(name: str) -> None:
    """Bytes per input and per output sample of one call (after the same call at 1/50 the size)."""
    import numpy as np
    from PIL import Image

    import rescale

    mode, in_size, out_size, call, method = COST_CASES[name]
    fn = getattr(rescale, call)

    def image(size):
        if mode == "L":  # a bitonal page: screentone's analysis has something to find
            return Image.fromarray((np.random.default_rng(0).random(size[::-1]) > 0.5).astype(np.uint8) * 255)
        return Image.new(mode, size)

    small = [(max(1, w // 50), max(1, h // 50)) for w, h in (in_size, out_size)]
    fn(image(small[0]), size=small[1], method=method)
    x = image(in_size)
    before = _vm_rss()
    fn(x, size=out_size, method=method)
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    bands = len(mode)
    per_in, per_out = used / (in_size[0] * in_size[1] * bands), used / (out_size[0] * out_size[1] * bands)
    outcome = f"{per_out:.1f} bytes per output sample, {per_in:.1f} per input sample"
    print(json.dumps({"before": before, "peak": before + used, "outcome": outcome}), flush=True)


def child(name: str) -> None:
    if name in COST_CASES:
        cost_child(name)
        return
    make, op = _api_scenarios()[name]
    x = make()
    _warm_up()
    before = _vm_rss()
    t0 = time.perf_counter()
    try:
        op(x)
        outcome = "done"
    except Exception as e:  # noqa: BLE001 - the outcome is what is measured
        outcome = f"{type(e).__name__}: {str(e).splitlines()[0][:150] if str(e) else ''}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps({"before": before, "peak": peak, "outcome": outcome, "seconds": time.perf_counter() - t0}),
        flush=True,
    )


def _limit_as(gb: float) -> None:
    if gb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (int(gb * (1 << 30)),) * 2)


def run_api(name: str, limit_gb: float) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--limit-gb", str(limit_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"outcome": f"process died ({proc.returncode}): {proc.stderr.strip()[-200:]}", "peak": 0, "before": 0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- CLI scenarios (crafted files for rescale up) ---------------------------------------------------


def make_inputs(folder: Path, kind: str, record: int) -> list[str]:
    """The crafted files of ``kind`` in ``folder``; returns the extra CLI arguments."""
    import numpy as np
    from PIL import ExifTags, Image, PngImagePlugin

    def png(path, mode):
        info = PngImagePlugin.PngInfo()
        info.add_text("rescale:original-size", f"{record}x{record}")
        info.add_text("rescale:method", "bicubic")
        info.add_text("rescale:lr-size", "1x1")
        Image.new(mode, (1, 1)).save(path, pnginfo=info)

    if kind == "up_tiny":  # the baseline: the same command on a file that asks for 2x2
        record = 2
        png(folder / "tiny.png", "RGBA")
        return ["--workers", "1"]
    if kind == "up_rgba":
        png(folder / "bomb.png", "RGBA")
        return ["--workers", "1"]
    if kind.startswith("up_rgba_workers2"):
        for i in range(2):
            png(folder / f"bomb{i}.png", "RGBA")
        return ["--workers", "2"] + (["--max-memory", "6G"] if kind.endswith("budget6g") else [])
    if kind == "up_rgb":
        png(folder / "bomb.png", "RGB")
        return ["--workers", "1"]
    if kind == "up_float_tiff":
        exif = Image.Exif()
        record_json = {"rescale": {"original_size": [record, record], "method": "bicubic", "lr_size": [1, 1]}}
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\0\0\0" + json.dumps(record_json).encode()
        Image.fromarray(np.zeros((1, 1), np.float32)).save(folder / "bomb.tiff", exif=exif.tobytes())
        return ["--workers", "1"]
    if kind == "up_legit":
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:750, 0:1000]
        base = np.stack([np.sin(x / 37 + c) * np.cos(y / 53 - c) for c in (0, 1, 2)], -1) * 90 + 128
        photo = folder / "src" / "photo.png"
        photo.parent.mkdir()
        Image.fromarray((base + rng.normal(0, 4, base.shape)).clip(0, 255).astype(np.uint8)).save(photo)
        subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "down", str(photo), "-o", str(folder / "photo.png"), "--scale"]
            + ["0.5", "--method", "bicubic", "-q"],
            check=True,
        )
        return ["--workers", "1"]
    raise ValueError(kind)


CLI_SCENARIOS = (
    "up_tiny",
    "up_rgba",
    "up_rgba_workers2",
    "up_rgba_workers2_budget6g",
    "up_rgb",
    "up_float_tiff",
    "up_legit",
)


def run_cli(kind: str, record: int, limit_gb: float, idle: dict | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        extra = make_inputs(folder, kind, record)
        prog = (
            f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({int(limit_gb * (1 << 30))},) * 2); "
            f"import runpy, sys; sys.argv = ['cli.py', *sys.argv[1:]]; "
            f"runpy.run_path({str(ROOT / 'cli.py')!r}, run_name='__main__')"
        )
        cmd = [sys.executable, "-c", prog, "up", str(folder), "-o", str(Path(tmp) / "out"), "--json", *extra]
        r = run_tree(cmd)
    lines = [json.loads(s) for s in r["stdout"].splitlines() if s.startswith("{")]
    files = [x for x in lines if "status" in x]
    outcome = ", ".join(sorted({x["status"] + (f" ({x['error'][:110]})" if x.get("error") else "") for x in files}))
    if r["rc"] not in (0, 1) or not files:
        outcome = f"exit {r['rc']}: {r['stderr'].strip()[-200:]}"
    base = idle or {"peak": r["peak"], "max_process": r["max_process"]}
    return {
        "before": base["peak"],
        "peak": r["peak"],
        "max_process": r["max_process"],
        "max_process_over_idle": r["max_process"] - base["max_process"],
        "outcome": outcome or "no files",
    }


# --- main --------------------------------------------------------------------------------------------

API_SCENARIOS = (
    "rgba_8000",
    "pillow_rgba_8000",
    "rgb_8000",
    "pillow_rgb_8000",
    "guard_channels64",
    "guard_batch1000",
    "guard_nan",
    "guard_str",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    every = API_SCENARIOS + CLI_SCENARIOS + tuple(COST_CASES)
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"scenarios: {', '.join(every)}")
    p.add_argument("--costs", action="store_true", help="the per-sample costs behind the batch memory budget")
    p.add_argument("--record-size", type=int, default=16384, help="the square size the crafted records ask for")
    p.add_argument("--limit-gb", type=float, default=None, help="address-space limit of each child (default: RAM)")
    p.add_argument("--json", action="store_true", help="one JSON object per scenario")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    limit = args.limit_gb
    if limit is None:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / (1 << 30)
    if args.child:
        _limit_as(limit)
        child(args.child)
        return
    names = args.only or list(COST_CASES if args.costs else API_SCENARIOS + CLI_SCENARIOS)
    idle = run_cli("up_tiny", 2, limit, None) if any(n in CLI_SCENARIOS for n in names) else None
    if not args.json:
        print(f"{'scenario':<26} {'before MB':>9} {'peak MB':>9} {'+MB':>8}  outcome")
    for name in names:
        r = run_cli(name, args.record_size, limit, idle) if name in CLI_SCENARIOS else run_api(name, limit)
        r["name"] = name
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            delta = max(0, r["peak"] - r["before"]) / MB
            row = f"{name:<26} {r['before'] / MB:9.0f} {r['peak'] / MB:9.0f} {delta:8.0f}  {r['outcome']}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
