"""The failures a fault-injection run found (issue 16), one regression test each: in-place runs
killed and resumed, size records asking for too much memory, FIFOs, concurrent runs' temporary
files, globs over the output folder, symbolic link loops, and the smaller ones. What the tool
guarantees, with a pointer to each test here, is in docs/reliability.md."""

from __future__ import annotations

import builtins
import io
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, PngImagePlugin

from rescale.batch import Options, Target, atomic, plan_jobs, process_file, provenance
from rescale.batch.budget import MemoryBudget, OverBudget, estimate
from rescale.batch.exif import JPEG_EXIF_LIMIT, read_mark
from rescale.cli import main

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="uses Linux's /proc, fork and FIFOs")


def _noise(seed: int, h: int, w: int, c: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _pillow_half(arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape[:2]
    return np.asarray(Image.fromarray(arr).resize(((w + 1) // 2, (h + 1) // 2), Image.Resampling.BICUBIC))


# --- 1. in-place runs: resumable, never processing a file twice -------------------------------------

# A fresh process (no thread pool started) that forks the CLI again and again and kills each child
# with SIGKILL, as `kill -9` would. Each child is killed after a random number of further files were
# replaced (an in-place save is a rename, so a new inode) plus a random fraction of a file's time, so
# the kills land mid-run however fast the machine is.
KILL_LOOP = r"""
import json, os, random, signal, sys, time
import rescale
from PIL import Image
from rescale.cli import main
rescale.rescale(Image.new("RGB", (8, 8)), 0.5)  # kernels loaded before forking, as the CLI does
argv, folder, kills, seed = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
inodes = {e.name: e.inode() for e in os.scandir(folder)}
replaced = lambda: sum(1 for e in os.scandir(folder) if inodes.get(e.name, e.inode()) != e.inode())
rng = random.Random(seed)
log = []
for _ in range(kills):
    target = replaced() + rng.randint(1, 4)
    pid = os.fork()
    if pid == 0:
        sys.stdout = sys.stderr = open(os.devnull, "w")
        os._exit(main(argv))
    status = None
    while status is None and replaced() < target:
        reaped, code = os.waitpid(pid, os.WNOHANG)
        status = code if reaped else time.sleep(0.0005)
    if status is None:
        time.sleep(rng.uniform(0, 0.002))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    log.append("killed" if os.WIFSIGNALED(status) else f"finished {os.waitstatus_to_exitcode(status)}")
print(json.dumps(log))
"""


@linux_only
def test_in_place_run_killed_at_random_moments_processes_every_file_once(tmp_path, capsys):
    folder = tmp_path / "ip"
    folder.mkdir()
    originals = {}
    for i in range(60):
        arr = _noise(i, 24 + i % 5, 30 + i % 7)
        originals[f"{i:02d}.png"] = arr
        Image.fromarray(arr).save(folder / f"{i:02d}.png")
    argv = ["resize", str(folder), "-o", str(folder), "--in-place", "--scale", "0.5", "--skip-existing"]
    argv += ["--workers", "1", "-q"]

    kills = subprocess.run(
        [sys.executable, "-c", KILL_LOOP, json.dumps(argv), str(folder), "6", "16"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert kills.returncode == 0, kills.stderr
    log = json.loads(kills.stdout)
    assert log.count("killed") >= 3, log  # most children were killed mid-way

    # Resume until done: every file is then halved exactly once (twice would be a quarter).
    code, _, _ = _run(argv, capsys)
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(originals)  # no temporary file left
    for name, arr in originals.items():
        with Image.open(folder / name) as im:
            np.testing.assert_array_equal(np.asarray(im), _pillow_half(arr), err_msg=name)
    # A further run finds everything done.
    code, out, _ = _run(argv[:-1], capsys)
    assert code == 0 and "0 done, 60 skipped" in out


def test_in_place_rerun_refuses_unless_told_and_marks_stay_with_their_file(tmp_path, capsys):
    folder = tmp_path / "ip"
    folder.mkdir()
    arr = _noise(1, 40, 60)
    for name in ("a.png", "b.jpg", "c.webp", "d.tiff"):
        Image.fromarray(arr).save(folder / name)
    argv = ["resize", folder, "-o", folder, "--in-place", "--scale", "0.5", "--workers", "1"]
    assert _run(argv, capsys)[0] == 0
    for name in ("a.png", "b.jpg", "c.webp", "d.tiff"):
        with Image.open(folder / name) as im:
            assert im.size == (30, 20) and read_mark(im.getexif()) is not None, name

    code, _, err = _run(argv, capsys)  # the same command again: refused, nothing touched
    assert code == 2 and "already processed in place by this same command" in err
    code, out, _ = _run([*argv, "--skip-existing"], capsys)
    assert code == 0 and "0 done, 4 skipped" in out
    # Another command, or a file resized by someone else since, is processed.
    Image.open(folder / "a.png").resize((30, 21)).save(folder / "a.png")
    code, out, _ = _run([*argv, "--skip-existing"], capsys)
    assert code == 0 and "1 done, 3 skipped" in out
    assert _run(["resize", folder, "-o", folder, "--in-place", "--scale", "0.5", "--method", "box"], capsys)[0] == 0
    with Image.open(folder / "b.jpg") as im:
        assert im.size == (15, 10)
    code, out, _ = _run([*argv, "--overwrite"], capsys)
    assert code == 0 and "4 done" in out

    # An output that is not in place does not inherit the mark.
    code, _, _ = _run(["resize", folder, "-o", tmp_path / "copy", "--scale", "1", "--workers", "1"], capsys)
    assert code == 0
    for p in (tmp_path / "copy").iterdir():
        with Image.open(p) as im:
            assert read_mark(im.getexif()) is None, p.name


# --- 2. size records that ask for too much ------------------------------------------------------------


def _record_png(path: Path, mode: str, original: tuple[int, int], method: str = "bicubic", lr=(1, 1)) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("rescale:original-size", f"{original[0]}x{original[1]}")
    info.add_text("rescale:method", method)
    info.add_text("rescale:lr-size", f"{lr[0]}x{lr[1]}")
    Image.new(mode, lr).save(path, pnginfo=info)


@linux_only
def test_crafted_record_is_refused_before_anything_is_allocated(tmp_path):
    """The issue's file: 1x1 RGBA asking for 16384x16384 (13.6 GB peak before the fix), and the
    float TIFF whose record is in its EXIF. Run under an address-space limit, so that the old
    behaviour fails fast instead of exhausting the machine."""
    src = tmp_path / "in"
    src.mkdir()
    _record_png(src / "bomb.png", "RGBA", (16384, 16384))
    exif = Image.Exif()
    record = {"rescale": {"original_size": [16384, 16384], "method": "bicubic", "lr_size": [1, 1]}}
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\0\0\0" + json.dumps(record).encode()
    Image.fromarray(np.zeros((1, 1), np.float32)).save(src / "bomb.tiff", exif=exif.tobytes())
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (6 << 30,) * 2)"
    prog = f"{limit}; import sys; from rescale.cli import main; sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", prog, "up", str(src), "-o", str(tmp_path / "out"), "--json", "--workers", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    files = {Path(r["input"]).name: r for r in lines if "input" in r}
    assert proc.returncode == 1 and set(files) == {"bomb.png", "bomb.tiff"}, proc.stderr
    for r in files.values():
        assert r["status"] == "failed" and "decompression-bomb limit" in r["error"], r
        assert "16384x16384" in r["error"] and "--max-pixels" in r["error"]


def test_record_checked_against_method_range_and_memory_budget(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _record_png(src / "irn3.png", "RGB", (90, 90), "irn", (30, 30))  # IRN restores x2 or x4 only
    _record_png(src / "big.png", "RGBA", (2000, 2000))
    _record_png(src / "evil.png", "RGB", (8, 8), "os.system")
    code, _, err = _run(["up", src, "-o", tmp_path / "out", "--workers", "1", "--max-memory", "100M"], capsys)
    assert code == 1
    fails = {Path(line.split(": ")[1]).name: line for line in err.splitlines() if line.startswith("failed: ")}
    assert "irn cannot rescale 90x90 <-> 30x30" in fails["irn3.png"] and "2 or 4" in fails["irn3.png"]
    need = estimate((1, 1), (2000, 2000), "RGBA") / 2**20
    assert f"needs about {need:.1f} MB" in fails["big.png"] and "budget of 100.0 MB" in fails["big.png"]
    assert "--max-memory" in fails["big.png"]
    assert "not a method" in fails["evil.png"]
    code, _, _ = _run(["up", src / "big.png", "-o", tmp_path / "out", "--max-memory", "1G"], capsys)
    assert code == 0  # a budget that holds it lets it through
    with Image.open(tmp_path / "out" / "big.png") as im:
        assert im.size == (2000, 2000)


def _hold(budget, nbytes, log, pause):
    with budget.reserve(nbytes):
        log.put(("in", nbytes, time.monotonic()))
        time.sleep(pause)
        log.put(("out", nbytes, time.monotonic()))


@linux_only
def test_workers_share_one_memory_budget():
    """Processes reserving from one budget never hold more than it at once, and a reservation over
    the whole budget fails at once."""
    ctx = mp.get_context("fork")
    budget = MemoryBudget(1000, ctx)
    log = ctx.Queue()
    sizes = [600, 300, 600, 100, 400, 700]
    procs = [ctx.Process(target=_hold, args=(budget, n, log, 0.1)) for n in sizes]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    events = sorted((log.get(timeout=5) for _ in range(2 * len(sizes))), key=lambda e: (e[2], e[0] == "in"))
    held, peak = 0, 0
    for kind, n, _ in events:
        held += n if kind == "in" else -n
        peak = max(peak, held)
    assert held == 0 and 700 <= peak <= 1000
    with pytest.raises(OverBudget, match="more than the run's budget"):
        with budget.reserve(1001):
            pass


def test_memory_budget_serves_in_turn():
    """A large request waiting for room is not overtaken by smaller ones that would fit."""
    import threading

    budget = MemoryBudget(1000)
    order = []
    first = budget.reserve(600)
    first.__enter__()

    def take(n):
        with budget.reserve(n):
            order.append(n)

    big = threading.Thread(target=take, args=(600,))
    big.start()
    while budget._next.value < 2:  # the big request has its turn number and waits
        time.sleep(0.001)
    small = threading.Thread(target=take, args=(100,))
    small.start()
    time.sleep(0.2)
    assert order == []  # 100 would fit beside the 600 held, but the 600 asked first
    first.__exit__(None, None, None)
    big.join(10)
    small.join(10)
    assert order == [600, 100]


# --- 5. FIFOs and other special files -------------------------------------------------------------------


@linux_only
def test_fifo_named_like_an_image_is_a_per_file_error(tmp_path, capsys):
    import signal

    folder = tmp_path / "d"
    folder.mkdir()
    os.mkfifo(folder / "p.png")
    Image.fromarray(_noise(2, 10, 10)).save(folder / "ok.png")

    def stuck(*_):
        raise TimeoutError("the run hung on the FIFO")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    try:
        code, _, err = _run(["resize", folder, "-o", tmp_path / "o", "--scale", "0.5", "--workers", "1"], capsys)
        dry = _run(["resize", folder / "p.png", "-o", tmp_path / "o2", "--scale", "0.5", "--dry-run"], capsys)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert code == 1 and f"failed: {folder / 'p.png'}: not a regular file but a FIFO" in err
    assert (tmp_path / "o" / "ok.png").exists()
    assert dry[0] == 1 and "FIFO" in dry[2]


# --- 6. temporary files of concurrent runs ---------------------------------------------------------------


def test_runs_in_other_pid_namespaces_keep_their_temporary_files(tmp_path, monkeypatch, capsys):
    """Run A writes into the folder from another container (another PID namespace, where its pid
    means nothing here); run B starts meanwhile in the same folder. B removes only what is clearly
    abandoned: its own namespace's dead writers' files and files nobody has touched for an hour."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(atomic, "_WRITER", "aaaaaaaa")  # run A's container
    a_live = atomic.temp_path(out / "a1.png", "runA")
    a_old = atomic.temp_path(out / "a2.png", "runA")
    monkeypatch.setattr(atomic, "_WRITER", "bbbbbbbb")  # run B's, here
    b_dead = atomic.temp_path(out / "b.png", "runX")
    # Both writers' pids are dead *here*; only the one of this namespace is known to be dead.
    a_live = a_live.with_name(a_live.name.replace(f"-{os.getpid()}-", f"-{dead.stdout.strip()}-"))
    b_dead = b_dead.with_name(b_dead.name.replace(f"-{os.getpid()}-", f"-{dead.stdout.strip()}-"))
    for p in (a_live, a_old, b_dead):
        p.write_bytes(b"partial")
    hour_ago = time.time() - atomic.STALE_TEMP_SECONDS - 60
    os.utime(a_old, (hour_ago, hour_ago))

    src = tmp_path / "x.png"
    Image.fromarray(_noise(3, 8, 8)).save(src)
    assert _run(["resize", src, "-o", out, "--scale", "0.5"], capsys)[0] == 0
    assert a_live.exists() and not a_old.exists() and not b_dead.exists()
    assert (out / "x.png").exists()


KILLED_WRITER = r"""
import os, sys
from rescale.batch import atomic

class _Os:  # os for rescale.batch.atomic only: the worker writing "victim" dies after its temporary file
    def __getattr__(self, name):
        return getattr(os, name)
    def replace(self, src, dst):
        if "victim" in str(src):
            os._exit(9)
        return os.replace(src, dst)

atomic.os = _Os()
from rescale.cli import main
sys.exit(main(sys.argv[1:]))
"""


@linux_only
def test_worker_killed_mid_write_leaves_no_temporary_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", "victim.png", "c.png", "d.png", "e.png"):
        Image.fromarray(_noise(4, 20, 30)).save(src / name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", KILLED_WRITER, "resize", src, "-o", out, "--scale", "0.5", "--workers", "2"]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "victim.png: a worker process died" in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr
    left = sorted(p.name for p in out.iterdir())
    assert "victim.png" not in left and not [n for n in left if n.startswith(atomic.TEMP_PREFIX)], left


@linux_only
def test_replacing_a_file_flushes_it_before_the_rename_new_files_once_per_run(tmp_path, capsys, monkeypatch):
    # A power cut must never leave an empty file where the user's image was; new files are flushed
    # by one sync at the end of the run instead of an fsync each.
    calls = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))))
    monkeypatch.setattr(atomic.os, "sync", lambda: calls.append(("sync", "")))
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(_noise(6, 20, 30)).save(src / name)
    argv = ["resize", src, "-o", tmp_path / "out", "--scale", "0.5", "--workers", "1"]
    assert _run(argv, capsys)[0] == 0
    assert calls == [("sync", "")]
    calls.clear()
    assert _run([*argv, "--overwrite"], capsys)[0] == 0
    assert [c for c, _ in calls] == ["fsync", "fsync", "sync"]
    assert all(atomic.TEMP_PREFIX in path for c, path in calls if c == "fsync")  # the new data, before the rename


# --- 7. globs and the output folder ---------------------------------------------------------------------


def test_globs_never_read_the_output_folder_nor_write_outside_it(tmp_path, capsys, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(_noise(5, 10, 12)).save(tree / name)
    argv = ["resize", f"{tree}/*", "-o", tree / "out", "--scale", "0.5", "-r", "--workers", "1"]
    assert _run(argv, capsys)[0] == 0
    code, out, _ = _run([*argv, "--skip-existing"], capsys)  # the rerun of the issue
    assert code == 0 and "0 done, 2 skipped" in out
    assert sorted(p.relative_to(tree / "out").as_posix() for p in (tree / "out").rglob("*")) == [
        "a.png",
        "sub",
        "sub/b.png",
    ]

    # A '..' in the pattern: a match that leaves the pattern's folder is refused rather than
    # written outside -o (here it would have gone to o/top.png, beside o/x).
    monkeypatch.chdir(tmp_path)
    Image.fromarray(_noise(5, 10, 12)).save(tmp_path / "top.png")
    code, _, err = _run(["resize", "tree/*/../../*.png", "-o", "o/x", "--scale", "0.5"], capsys)
    assert code == 1 and "outside the pattern's folder" in err
    assert not (tmp_path / "o").exists()

    # In place with a glob still works: the output folder is the pattern's own folder.
    code, out, _ = _run(["resize", f"{tree}/*.png", "-o", tree, "--in-place", "--scale", "0.5"], capsys)
    assert code == 0 and "1 done" in out
    with Image.open(tree / "a.png") as im:
        assert im.size == (6, 5)


# --- 8. symbolic link loops -------------------------------------------------------------------------------


def test_symlink_loop_is_one_per_file_error(tmp_path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    os.symlink("b.png", folder / "a.png")
    os.symlink("a.png", folder / "b.png")
    Image.fromarray(_noise(6, 10, 10)).save(folder / "ok.png")
    code, out, err = _run(["resize", folder, "-o", tmp_path / "o", "--scale", "0.5"], capsys)
    assert code == 1 and "1 done, 0 skipped, 2 failed" in out and "Traceback" not in err
    assert err.count("symbolic link loop") == 2
    code, _, err = _run(["resize", folder / "a.png", "-o", tmp_path / "o2", "--scale", "0.5"], capsys)
    assert code == 1 and "symbolic link loop" in err


# --- 9. the smaller ones ----------------------------------------------------------------------------------


def test_deeply_nested_user_comment_is_not_a_record(tmp_path, capsys):
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\0\0\0" + b"[" * 3000
    path = tmp_path / "c.jpg"
    Image.fromarray(_noise(7, 10, 10)).save(path, exif=exif.tobytes())
    assert provenance.read(path) is None
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\0\0\0{" + b"[" * 3000
    Image.fromarray(_noise(7, 10, 10)).save(path, exif=exif.tobytes())
    assert provenance.read(path) is None
    code, _, err = _run(["up", path, "-o", tmp_path / "o.jpg"], capsys)
    assert code == 1 and "no original size stored" in err and "RecursionError" not in err


def test_exif_over_64k_is_cut_to_fit_a_jpeg_with_a_note(tmp_path, capsys):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.MakerNote] = bytes(70000)
    src = tmp_path / "big_exif.tiff"
    Image.fromarray(_noise(8, 40, 40)).save(src, exif=exif.tobytes())
    code, _, err = _run(["down", src, "-o", tmp_path / "small.jpg", "--scale", "0.5", "--method", "bicubic"], capsys)
    assert code == 0, err
    assert "note:" in err and "more than a JPEG holds" in err and "MakerNote" in err
    with Image.open(tmp_path / "small.jpg") as im:
        assert im.getexif()[ExifTags.Base.Make] == "TestCam"
        assert len(im.getexif().tobytes()) <= JPEG_EXIF_LIMIT
    assert provenance.read(tmp_path / "small.jpg") == provenance.Provenance((40, 40), "bicubic", (20, 20), quality=90)


def test_non_utf8_file_name_with_verbose_and_strict_utf8_output(tmp_path, monkeypatch):
    folder = tmp_path / "d"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not UTF-8
    Image.fromarray(_noise(9, 10, 10)).save(folder / name)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    code = main(["resize", str(folder), "-o", str(tmp_path / "o"), "--scale", "0.5", "-v"])
    out.flush()
    text = out.buffer.getvalue().decode("utf-8")
    assert code == 0 and "caf\\xe9.png" in text and "1 done" in text
    assert (tmp_path / "o" / name).exists()


def test_full_disk_says_no_space_left(tmp_path, monkeypatch, capsys):
    """Every temporary file goes to /dev/full, whose writes fail with ENOSPC as a full disk's do."""
    real_open = builtins.open

    def full_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).name.startswith(atomic.TEMP_PREFIX):
            return real_open("/dev/full", "wb")
        return real_open(file, mode, *args, **kwargs)

    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    src = tmp_path / "a.png"
    Image.fromarray(_noise(10, 64, 64)).save(src)
    monkeypatch.setattr(builtins, "open", full_open)
    code, _, err = _run(["resize", src, "-o", tmp_path / "o", "--scale", "0.5", "--workers", "1"], capsys)
    monkeypatch.undo()
    assert code == 1 and "no space left on the device" in err and "encoder error" not in err


@linux_only
def test_closed_stderr(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.fromarray(_noise(11, 12, 12)).save(src / f"{i}.png")
    cmd = [sys.executable, str(ROOT / "cli.py"), "resize", str(src), "-o", str(tmp_path / "o"), "--scale", "0.5"]
    proc = subprocess.run(
        [*cmd, "--workers", "2"], capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.close(2)
    )
    assert proc.returncode == 0 and "4 done" in proc.stdout  # (the noise of a normal run: see the test above)


def test_muller_from_the_cli_with_its_weights(tmp_path, capsys):
    import rescale

    src = tmp_path / "a.png"
    arr = _noise(12, 48, 64)
    Image.fromarray(arr).save(src)
    code, _, err = _run(["resize", src, "-o", tmp_path / "o.png", "--size", "32x24", "--method", "muller"], capsys)
    assert code == 2 and "needs --weights" in err and "muller_imagewoof64" in err
    code, _, err = _run(["resize", src, "-o", tmp_path / "o.png", "--size", "32x24", "--weights", "irn_x2"], capsys)
    assert code == 2 and "--weights is for learned methods" in err
    argv = ["--method", "muller", "--weights", "muller_imagewoof64"]
    assert _run(["resize", src, "-o", tmp_path / "o.png", "--size", "32x24", *argv], capsys)[0] == 0
    ref = rescale.rescale(Image.fromarray(arr), size=(32, 24), method="muller", weights="muller_imagewoof64")
    with Image.open(tmp_path / "o.png") as im:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(ref))
    # rescale down records the weights; rescale up finds them.
    assert _run(["down", src, "-o", tmp_path / "lr.png", "--scale", "0.5", *argv], capsys)[0] == 0
    assert provenance.read(tmp_path / "lr.png").weights == "muller_imagewoof64"
    assert _run(["up", tmp_path / "lr.png", "-o", tmp_path / "hr.png"], capsys)[0] == 0
    with Image.open(tmp_path / "hr.png") as im:
        assert im.size == (64, 48)


def test_in_place_plan_and_process_file_through_the_library(tmp_path):
    """The mark and the budget work for library callers too (no CLI, no run id)."""
    src = tmp_path / "a.png"
    Image.fromarray(_noise(13, 20, 20)).save(src)
    (job,) = plan_jobs([src], tmp_path, in_place=True).jobs
    assert job.in_place
    r = process_file(job, Options(Target(scale=(0.5, 0.5)), max_memory=1 << 30))
    assert r.status == "done"
    with Image.open(src) as im:
        assert im.size == (10, 10) and read_mark(im.getexif()).endswith(" 10x10")
    r = process_file(job, Options(Target(scale=(4, 4)), max_memory=1000))
    assert r.status == "failed" and "more than the run's budget" in r.reason


def test_irn_with_one_weights_name_from_the_cli(tmp_path, capsys):
    # --weights gives one name; IRN takes it for the scale its manifest says (it was refused with
    # "'str' object is not a mapping"), and a scale it does not cover keeps the shipped weights.
    import rescale

    src = tmp_path / "a.png"
    arr = _noise(14, 48, 64)
    Image.fromarray(arr).save(src)
    argv = ["down", src, "-o", tmp_path / "lr.png", "--scale", "0.5", "--method", "irn", "--weights", "irn_x2"]
    assert _run(argv, capsys)[0] == 0
    assert provenance.read(tmp_path / "lr.png").weights == "irn_x2"
    with Image.open(tmp_path / "lr.png") as im:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(rescale.down(Image.fromarray(arr), 2, method="irn")))
    code, _, err = _run([*argv[:-1], "no_such_weights"], capsys)
    assert code == 2 and "no_such_weights" in err


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos : pos + 12 + length])
        pos += 12 + length
    return chunks


def test_png_header_with_late_exif_is_read_without_decoding(tmp_path, monkeypatch):
    # Pillow's getexif decodes a PNG whose eXIf chunk follows the image data: the header must not,
    # or the memory budget is reserved only after the decode it guards.
    from PIL import ImageFile

    from rescale.batch.files import open_image, read_header

    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    buf = io.BytesIO()
    Image.fromarray(_noise(15, 30, 50)).save(buf, "PNG", exif=exif.tobytes())
    chunks = _png_chunks(buf.getvalue())
    late = [c for c in chunks if c[4:8] != b"eXIf"]
    late.insert(-1, next(c for c in chunks if c[4:8] == b"eXIf"))  # just before IEND
    path = tmp_path / "late.png"
    path.write_bytes(buf.getvalue()[:8] + b"".join(late))

    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(1) or real_load(self))
    with open_image(path) as im:
        header = read_header(im)
    assert header.size == (30, 50) and not loads  # upright (rotated by the EXIF), nothing decoded
    Image.fromarray(_noise(15, 30, 50)).save(tmp_path / "plain.png")  # no EXIF at all: the same
    with open_image(tmp_path / "plain.png") as im:
        assert read_header(im).size == (50, 30) and not loads
    monkeypatch.undo()
    with Image.open(path) as im:  # Pillow itself sees the same orientation
        assert "exif" not in im.info and im.getexif()[ExifTags.Base.Orientation] == 6
