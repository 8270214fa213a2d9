"""End-to-end tests of ``rescale resize`` (rescale/cli/, rescale/batch/) in temporary
folders. Resampled pixels are checked against Pillow's own ``resize`` on the same decoded input
(rescale is Pillow-exact for these modes), metadata against what was put into the files."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps

from rescale.batch import Options, Target, plan_jobs, process_file, run_jobs
from rescale.batch.atomic import TEMP_PREFIX, clean_temp_files, temp_path
from rescale.batch.device import Batcher
from rescale.cli import main

ROOT = Path(__file__).resolve().parents[2]
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _noise(rng, h, w, c=None):
    """Smooth-ish content (noise on a gradient) so JPEG keeps it recognisable."""
    shape = (h, w) if c is None else (h, w, c)
    base = np.linspace(0, 200, w)[None, :] if c is None else np.linspace(0, 200, w)[None, :, None]
    return np.clip(base + rng.integers(0, 55, shape), 0, 255).astype(np.uint8)


def _jpeg_bytes(img: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, "JPEG", quality=95, **kw)
    return b.getvalue()


@pytest.fixture()
def mixed(tmp_path):
    """A folder with one of everything the tool meets: good files of each mode, broken ones, a
    nested folder, a non-image."""
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    (src / "nested" / "deeper").mkdir(parents=True)
    Image.fromarray(_noise(rng, 23, 37, 3)).save(src / "rgb.png")
    Image.fromarray(_noise(rng, 30, 40, 4)).save(src / "alpha.png")
    Image.fromarray((rng.integers(0, 65536, (21, 34))).astype(np.uint16)).save(src / "depth16.png", dpi=(150, 150))
    Image.fromarray(np.array([[77]], np.uint8)).save(src / "tiny.png")
    Image.fromarray(_noise(rng, 16, 18)).save(src / "nested" / "deeper" / "inner.png")
    # Stored sideways (orientation 6): upright it is 40 wide, 60 high, red on top, blue below.
    upright = np.zeros((60, 40, 3), np.uint8)
    upright[:30, :, 0] = 220
    upright[30:, :, 2] = 220
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight] = stored.size
    (src / "rotated.jpg").write_bytes(_jpeg_bytes(stored, exif=exif.tobytes(), icc_profile=SRGB, dpi=(300, 300)))
    good = _jpeg_bytes(Image.fromarray(_noise(rng, 48, 64, 3)))
    (src / "truncated.jpg").write_bytes(good[: len(good) * 6 // 10])
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(300))
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue")]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    (src / "notes.txt").write_text("not an image")
    return src


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _pillow_resized(path: Path, size, method=Image.Resampling.LANCZOS) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).resize(size, method))


def test_mixed_folder_end_to_end(mixed, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = _run(
        ["resize", str(mixed), "-o", str(out), "--scale", "0.5", "--method", "lanczos", "-r", "--workers", "1"], capsys
    )

    assert code == 1  # three files failed
    assert "6 done, 0 skipped, 3 failed" in stdout
    failures = {
        line.split(": ", 2)[1]: line.split(": ", 2)[2] for line in stderr.splitlines() if line.startswith("failed: ")
    }
    assert set(failures) == {str(mixed / n) for n in ("corrupt.png", "truncated.jpg", "anim.gif")}
    assert all(line.startswith("failed: ") for line in stderr.splitlines())  # no progress bar off a terminal
    assert "truncated" in failures[str(mixed / "truncated.jpg")]
    assert "multi-frame" in failures[str(mixed / "anim.gif")]

    # Tree mirrored, formats kept, the non-image and the failures left out.
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert made == ["alpha.png", "depth16.png", "nested/deeper/inner.png", "rgb.png", "rotated.jpg", "tiny.png"]

    for name, size, mode in [
        ("rgb.png", (19, 12), "RGB"),
        ("alpha.png", (20, 15), "RGBA"),
        ("depth16.png", (17, 11), "I;16"),
        ("nested/deeper/inner.png", (9, 8), "L"),
        ("tiny.png", (1, 1), "L"),
    ]:
        with Image.open(out / name) as im:
            assert (im.size, im.mode) == (size, mode), name
            np.testing.assert_array_equal(np.asarray(im), _pillow_resized(mixed / name, size), err_msg=name)

    with Image.open(out / "depth16.png") as im:
        assert im.info["dpi"] == pytest.approx((150, 150), abs=0.05)  # PNG stores dots per metre

    with Image.open(out / "rotated.jpg") as im:
        assert im.size == (20, 30)  # upright, then halved
        exif = im.getexif()
        assert ExifTags.Base.Orientation not in exif and exif[ExifTags.Base.Make] == "TestCam"
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        assert (sub[ExifTags.Base.ExifImageWidth], sub[ExifTags.Base.ExifImageHeight]) == (20, 30)
        assert im.info["icc_profile"] == SRGB and im.info["dpi"] == (300, 300)
        arr = np.asarray(im).astype(int)
        assert arr[:13, :, 0].mean() > 180 and arr[:13, :, 2].mean() < 40  # red on top
        assert arr[17:, :, 2].mean() > 180 and arr[17:, :, 0].mean() < 40  # blue below
        # Same pixels as resampling the upright decode, up to JPEG re-encoding.
        ref = _pillow_resized(mixed / "rotated.jpg", (20, 30)).astype(int)
        assert np.abs(arr - ref).mean() < 8  # (a wrong orientation: over 100)

    # Every output exists: a plain rerun refuses, --skip-existing skips, --overwrite redoes.
    assert _run(["resize", str(mixed), "-o", str(out), "--scale", "0.5", "-r"], capsys)[0] == 2
    code, stdout, _ = _run(
        ["resize", str(mixed), "-o", str(out), "--scale", "0.5", "-r", "--skip-existing", "--workers", "1"], capsys
    )
    assert code == 1 and "0 done, 6 skipped, 3 failed" in stdout


def test_json_lines_and_process_pool(mixed, tmp_path):
    """The installed program as a script runs it (two worker processes), no progress bar when not
    on a terminal, one JSON object per file plus the summary."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "resize",
            str(mixed),
            "-o",
            str(out),
            "--size",
            "10x10",
            "--fit",
            "cover",
            "--format",
            "webp",
            "-r",
            "--json",
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "\r" not in proc.stderr and "failed" not in proc.stderr  # no progress bar, errors only as JSON
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = lines.pop()["summary"]
    assert (summary["done"], summary["failed"], summary["skipped"]) == (6, 3, 0)
    by_name = {Path(r["input"]).name: r for r in lines}
    assert by_name["corrupt.png"]["status"] == "failed" and by_name["corrupt.png"]["error"]
    for name in ("rgb.png", "alpha.png", "rotated.jpg", "tiny.png"):
        r = by_name[name]
        assert r["status"] == "done" and r["out_size"] == [10, 10] and r["output"].endswith(".webp")
        with Image.open(r["output"]) as im:
            assert im.format == "WEBP" and im.size == (10, 10)
    # WebP holds 8-bit RGB: 16-bit grey is rounded down and stored as RGB, and the report says so.
    assert by_name["depth16.png"]["mode"] == "RGB"
    assert by_name["depth16.png"]["converted"] == "I;16 -> RGB (WebP holds 8 bits and no greyscale)"
    with Image.open(by_name["depth16.png"]["output"]) as im:
        assert im.mode == "RGB"
    assert summary["megapixels"] == pytest.approx(
        sum(np.prod(r["size"]) for r in lines if r["status"] == "done") / 1e6, abs=1e-3
    )


def test_cover_crop_and_jpeg_flattening(tmp_path, capsys):
    rng = np.random.default_rng(1)
    src = tmp_path / "a.png"
    rgba = _noise(rng, 40, 80, 4)
    rgba[..., 3] = 255
    rgba[:, :10, 3] = 0  # transparent left strip
    Image.fromarray(rgba).save(src)
    out = tmp_path / "out"
    code, _, _ = _run(
        ["resize", str(src), "-o", str(out), "--size", "20x20", "--fit", "cover", "--method", "bicubic"], capsys
    )
    assert code == 0
    with Image.open(out / "a.png") as im:
        # cover: 80x40 -> 40x20, then the middle 20 columns.
        ref = Image.fromarray(rgba).resize((40, 20), Image.Resampling.BICUBIC).crop((10, 0, 30, 20))
        np.testing.assert_array_equal(np.asarray(im), np.asarray(ref))

    code, _, _ = _run(
        ["resize", str(src), "-o", str(tmp_path / "flat.jpg"), "--scale", "1", "--quality", "100"], capsys
    )
    assert code == 0
    with Image.open(tmp_path / "flat.jpg") as im:
        assert im.mode == "RGB"
        arr = np.asarray(im).astype(int)
    assert arr[:, :8].min() > 245  # transparent -> white, not the hidden colour


@pytest.mark.parametrize(
    "target, size, expect",
    [
        (Target(scale=(0.5, 0.25)), (101, 40), ((51, 10), None)),
        (Target(width=50), (200, 101), ((50, 25), None)),
        (Target(height=10), (200, 101), ((20, 10), None)),
        (Target(width=50, height=50, fit="contain"), (200, 100), ((50, 25), None)),
        (Target(width=50, height=50, fit="contain"), (100, 200), ((25, 50), None)),
        (Target(width=50, height=50, fit="fill"), (100, 200), ((50, 50), None)),
        (Target(width=50, height=50, fit="cover"), (200, 100), ((100, 50), (25, 0, 75, 50))),
        (Target(width=30, height=20, fit="cover"), (30, 100), ((30, 100), (0, 40, 30, 60))),
        (Target(width=3, height=3, fit="contain"), (1000, 1), ((3, 1), None)),
    ],
)
def test_target_sizes(target, size, expect):
    assert target.plan(*size) == expect


def test_size_rules_and_usage_errors(tmp_path, capsys):
    src = tmp_path / "a.png"
    Image.new("RGB", (40, 20)).save(src)
    for argv in (
        ["--scale", "0.5", "--width", "3"],
        ["--fit", "cover", "--width", "3"],
        [],
        ["--scale", "0.5", "--method", "nope"],
    ):
        code, _, err = _run(["resize", str(src), "-o", str(tmp_path / "o"), *argv], capsys)
        assert code == 2 and "error" in err, argv
    with pytest.raises(SystemExit):
        main(["resize", str(src), "-o", str(tmp_path / "o"), "--scale", "0"])
    capsys.readouterr()


def test_never_overwrites_inputs(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    arr = _noise(np.random.default_rng(2), 20, 30, 3)
    Image.fromarray(arr).save(folder / "a.png")
    before = (folder / "a.png").read_bytes()
    code, _, err = _run(["resize", str(folder), "-o", str(folder), "--scale", "0.5", "--overwrite"], capsys)
    assert code == 1 and "would overwrite this input" in err
    assert (folder / "a.png").read_bytes() == before
    # a.jpg and a.png both becoming a.png: neither input may be replaced, nor one output by the other.
    Image.fromarray(arr).save(folder / "a.jpg")
    out = tmp_path / "out"
    code, _, err = _run(["resize", str(folder), "-o", str(out), "--scale", "0.5", "--format", "png"], capsys)
    assert code == 1 and "also the output of" in err and len(list(out.iterdir())) == 1

    code, _, _ = _run(
        ["resize", str(folder / "a.png"), "-o", str(folder / "a.png"), "--scale", "0.5", "--in-place"], capsys
    )
    assert code == 0
    with Image.open(folder / "a.png") as im:
        assert im.size == (15, 10)


def test_globs_dry_run_and_single_file(tmp_path, capsys):
    src = tmp_path / "photos"
    (src / "2024").mkdir(parents=True)
    for name in ("x.png", "2024/y.png", "2024/z.jpg"):
        Image.new("L", (10, 6), 9).save(src / name)
    out = tmp_path / "out"
    code, stdout, _ = _run(["resize", str(src / "**" / "*.png"), "-o", str(out), "--width", "5", "--dry-run"], capsys)
    assert code == 0 and not out.exists()
    assert "2 planned" in stdout and "10x6 -> 5x3" in stdout

    code, _, _ = _run(["resize", str(src / "**" / "*.png"), "-o", str(out), "--width", "5", "-q"], capsys)
    assert code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["2024/y.png", "x.png"]

    code, _, err = _run(["resize", str(tmp_path / "nothing*.png"), "-o", str(out), "--width", "5"], capsys)
    assert code == 1 and "no files match" in err

    code, _, _ = _run(
        ["resize", str(src / "x.png"), "-o", str(tmp_path / "single.tiff"), "--scale", "2", "--method", "nearest"],
        capsys,
    )
    assert code == 0
    with Image.open(tmp_path / "single.tiff") as im:
        assert im.format == "TIFF" and im.size == (20, 12) and np.all(np.asarray(im) == 9)


def test_decompression_bomb_guard(tmp_path, capsys):
    src = tmp_path / "big.png"
    Image.new("RGB", (30, 30)).save(src)  # 900 pixels
    for limit in ("600", "300"):  # between Pillow's warning and error thresholds, and beyond
        code, _, err = _run(
            ["resize", str(src), "-o", str(tmp_path / "o"), "--scale", "0.5", "--max-pixels", limit], capsys
        )
        assert code == 1 and "too large" in err and "900 pixels" in err
    assert _run(["resize", str(src), "-o", str(tmp_path / "o"), "--scale", "0.5", "--max-pixels", "0"], capsys)[0] == 0


def test_mode_conversions(tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "src"
    src.mkdir()
    pal = Image.fromarray(rng.integers(0, 4, (12, 16)).astype(np.uint8)).convert("P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    pal.save(src / "pal.gif")
    pal.save(src / "pal_t.png", transparency=0)
    Image.new("CMYK", (16, 12), (0, 255, 255, 0)).save(src / "cmyk.jpg")
    Image.new("1", (16, 12), 1).save(src / "bw.png")
    plan = plan_jobs([src], tmp_path / "out")
    results = {Path(r.src).name: r for r in (process_file(j, Options(Target(scale=(0.5, 0.5)))) for j in plan.jobs)}
    assert {n: (r.status, r.converted, r.mode) for n, r in results.items()} == {
        "pal.gif": ("done", "P -> RGB", "RGB"),
        "pal_t.png": ("done", "P -> RGBA", "RGBA"),
        "cmyk.jpg": ("done", "CMYK -> RGB", "RGB"),
        "bw.png": ("done", "1 -> L", "L"),
    }
    assert (tmp_path / "out" / "pal.png").exists()  # GIF is written as PNG
    with Image.open(tmp_path / "out" / "cmyk.jpg") as im:
        r, g, b = np.asarray(im).reshape(-1, 3).mean(0)
        assert r > 200 and g < 60 and b < 60  # C=0 M=Y=100%: red


def test_batched_path_matches_per_file_path(tmp_path):
    """--device cuda's logic (decode on workers, resample same-size batches in the parent, encode on
    workers) run on the CPU gives the same files as the per-file path."""
    rng = np.random.default_rng(4)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        Image.fromarray(_noise(rng, 20, 30, 3)).save(src / f"same{i}.png")
    Image.fromarray(_noise(rng, 17, 11, 4)).save(src / "other.png")
    Image.fromarray(_noise(rng, 17, 11)).save(src / "grey.png")
    Image.fromarray(rng.integers(0, 65536, (9, 9)).astype(np.uint16)).save(src / "deep.png")
    (src / "bad.png").write_bytes(b"nope")
    opts = Options(Target(width=13, height=9, fit="cover"), method="lanczos")

    per_file = {r.name: r for r in run_jobs(plan_jobs([src], tmp_path / "a").jobs, opts, workers=1)}
    batched = {
        r.name: r for r in run_jobs(plan_jobs([src], tmp_path / "b").jobs, opts, workers=2, device="cpu", batch_size=2)
    }
    assert {n: r.status for n, r in batched.items()} == {n: r.status for n, r in per_file.items()}
    assert batched["bad.png"].status == "failed"
    for name, r in per_file.items():
        if r.status == "done":
            with Image.open(tmp_path / "a" / name) as a, Image.open(tmp_path / "b" / name) as b:
                assert a.mode == b.mode and a.size == b.size == (13, 9)
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def test_batcher_groups_and_bounds_memory():
    b = Batcher(max_items=3, max_bytes=1000, max_pending_bytes=2500)
    assert b.add("a", 1, 100) == [] and b.add("b", 2, 100) == [] and b.add("a", 3, 100) == []
    assert b.add("a", 4, 100) == [[1, 3, 4]]  # full by count
    assert b.add("c", 5, 1000) == [[5]]  # full by bytes
    assert b.add("d", 6, 900) == [] and b.add("e", 7, 900) == []
    assert b.add("f", 8, 800) == [[6]]  # 2700 pending > 2500: the biggest group goes early
    assert len(b) == 3 and b.flush() == [[2], [7], [8]] and len(b) == 0


def test_temp_files_of_dead_writers_are_cleaned(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    live = temp_path(tmp_path / "y.png", "run1")
    stale = live.with_name(live.name.replace(f"-{os.getpid()}-", f"-{dead}-").replace("-y.png", "-x.png"))
    other = tmp_path / "keep.png"
    for p in (stale, live, other):
        p.write_bytes(b"x")
    assert clean_temp_files(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
    assert clean_temp_files(tmp_path, run="run1") == [live]  # the run is over: its leftovers go


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux's parent-death signal to stop the workers")
def test_sigkill_mid_run_leaves_only_complete_outputs(tmp_path):
    rng = np.random.default_rng(5)
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    n = 60
    for i in range(n):
        Image.fromarray(_noise(rng, 200, 300, 3)).save(src / f"img{i:03d}.jpg", quality=80)
    cmd = [
        sys.executable,
        str(ROOT / "cli.py"),
        "resize",
        str(src),
        "-o",
        str(out),
        "--scale",
        "0.7",
        "--method",
        "lanczos",
        "--format",
        "png",
        "--workers",
        "2",
        "-q",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and sum(1 for p in out.iterdir() if not p.name.startswith(".")) >= 5:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # the main process only: its workers must not outlive it
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    time.sleep(0.2)

    finished = [p for p in out.iterdir() if not p.name.startswith(TEMP_PREFIX)]
    assert 5 <= len(finished) < n  # killed mid-way
    for p in finished:
        with Image.open(p) as im:
            im.load()  # a truncated file would raise here
            assert im.size == (210, 140)

    rerun = subprocess.run([*cmd, "--skip-existing"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"img{i:03d}.png" for i in range(n)]  # all there, no temporary file left


def test_subcommands_are_imported_only_when_run(tmp_path, monkeypatch, capsys):
    import rescale.cli as cli

    (tmp_path / "fake_cmd.py").write_text(
        "def add_parser(subparsers):\n    subparsers.add_parser('fake', help='a test command')\n\n"
        "def run(args):\n    return 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, ("fake", "fake_cmd"), ("later", "not_written_yet")])
    monkeypatch.delitem(sys.modules, "rescale.cli.resize", raising=False)
    assert main(["fake"]) == 42
    assert "rescale.cli.resize" not in sys.modules
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    assert "resize" in listing and "fake" in listing and "later" not in listing


def test_folder_takes_the_files_pillow_decodes(tmp_path):
    # Common suffixes are known without importing all of Pillow's plugins; the others still come
    # from Pillow's registry (PPM yes; EPS, which needs Ghostscript, no); hidden files never.
    from rescale.batch import plan_jobs

    for name in ("a.JPG", "b.ppm", "c.eps", ".d.png", "e.txt", "f.webp"):
        (tmp_path / name).write_bytes(b"")
    plan = plan_jobs([tmp_path], tmp_path / "out")
    assert sorted(job.src.name for job in plan.jobs) == ["a.JPG", "b.ppm", "f.webp"]
