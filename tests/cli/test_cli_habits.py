"""The command-line habits of issue 17: 16 bits kept end to end, --no-enlarge, --strip, - for
stdin/stdout, a dry run that shows what will fail, one clear error for -o FILE with several inputs.
Inputs are written and outputs read with OpenCV, independently of rescale's own 16-bit code."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from rescale.batch import Target
from rescale.batch.provenance import read as read_provenance
from rescale.cli import main

RNG = np.random.default_rng(17)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write16(path: Path, arr: np.ndarray) -> None:
    """``arr`` (uint16 HxW, HxWx3 RGB or HxWx4 RGBA) written by OpenCV (BGR order)."""
    bgr = arr if arr.ndim == 2 else arr[..., [2, 1, 0, 3][: arr.shape[2]]]
    assert cv2.imwrite(str(path), bgr)


def _read16(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return arr if arr.ndim == 2 else arr[..., [2, 1, 0, 3][: arr.shape[2]]]


def _box_half(arr: np.ndarray) -> np.ndarray:
    """Float64 2x2 box reduction; colour weighted by alpha when there is alpha (premultiplied)."""
    x = arr.astype(np.float64)
    blocks = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, -1)
    if arr.ndim == 3 and arr.shape[2] == 4:
        a = blocks[..., 3:]
        mean_a = a.mean(axis=(1, 3))
        color = (blocks[..., :3] * a).mean(axis=(1, 3)) / np.maximum(mean_a, 1e-12)
        return np.concatenate([color, mean_a], axis=-1)
    return blocks.mean(axis=(1, 3)).reshape(arr.shape[0] // 2, arr.shape[1] // 2, *arr.shape[2:])


@pytest.mark.parametrize(
    "name, channels",
    [("rgb.png", 3), ("rgba.png", 4), ("rgb.tiff", 3), ("rgba.tiff", 4), ("grey.png", 1)],
)
def test_sixteen_bits_round_trip(tmp_path, capsys, name, channels):
    shape = (24, 36) if channels == 1 else (24, 36, channels)
    arr = RNG.integers(0, 65536, shape, dtype=np.uint16)
    if channels == 4:
        arr[..., 3] = RNG.integers(1, 65536, shape[:2])  # no fully transparent pixel: colour is defined
    src = tmp_path / name
    _write16(src, arr)
    same = tmp_path / f"same_{name}"
    code, out, _ = _run(["resize", src, "-o", same, "--scale", "1", "--json"], capsys)
    assert code == 0
    r = json.loads(out.splitlines()[0])
    assert r["mode"] == {1: "I;16", 3: "RGB;16", 4: "RGBA;16"}[channels] and r["converted"] is None
    assert np.array_equal(_read16(same), arr)  # every one of the 16 bits kept

    half = tmp_path / f"half_{name}"
    assert _run(["resize", src, "-o", half, "--scale", "0.5", "--method", "box"], capsys)[0] == 0
    got = _read16(half)
    assert got.dtype == np.uint16
    assert np.abs(got.astype(np.float64) - _box_half(arr)).max() <= 1.0


def test_sixteen_bits_to_an_8_bit_format_is_reported(tmp_path, capsys):
    arr = RNG.integers(0, 65536, (8, 10, 3), dtype=np.uint16)
    _write16(tmp_path / "deep.png", arr)
    code, out, _ = _run(["resize", tmp_path / "deep.png", "-o", tmp_path / "o.jpg", "--scale", "1", "--json"], capsys)
    assert code == 0
    r = json.loads(out.splitlines()[0])
    assert r["mode"] == "RGB" and r["converted"] == "RGB;16 -> RGB (JPEG holds 8 bits)"
    code, out, _ = _run(["resize", tmp_path / "deep.png", "-o", tmp_path / "o.webp", "--scale", "1", "--json"], capsys)
    assert json.loads(out.splitlines()[0])["converted"] == "RGB;16 -> RGB (WebP holds 8 bits)"


@pytest.mark.parametrize(
    "target, size, expect",
    [
        (Target(width=256, height=256, fit="cover", enlarge=False), (1, 1), ((1, 1), None)),
        (Target(width=256, height=256, fit="cover"), (1, 1), ((256, 256), (0, 0, 256, 256))),
        (Target(width=256, height=256, fit="contain", enlarge=False), (100, 50), ((100, 50), None)),
        (Target(width=256, height=256, fit="contain", enlarge=False), (512, 256), ((256, 128), None)),
        (Target(width=256, height=256, fit="cover", enlarge=False), (300, 100), ((300, 100), (22, 0, 278, 100))),
        (Target(width=256, height=256, fit="fill", enlarge=False), (300, 100), ((256, 100), None)),
        (Target(scale=(2.0, 0.5), enlarge=False), (40, 40), ((40, 20), None)),
        (Target(width=80, enlarge=False), (40, 30), ((40, 30), None)),
    ],
)
def test_no_enlarge_sizes(target, size, expect):
    assert target.plan(*size) == expect


def test_no_enlarge_on_the_command_line(tmp_path, capsys):
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tmp_path / "dot.png")
    Image.new("RGB", (300, 100), (10, 200, 10)).save(tmp_path / "wide.png")
    box = ["--size", "256x256", "--fit", "cover"]
    assert _run(["resize", tmp_path / "dot.png", "-o", tmp_path / "big.png", *box], capsys)[0] == 0
    assert Image.open(tmp_path / "big.png").size == (256, 256)  # asked for: enlarged
    assert _run(["resize", tmp_path, "-o", tmp_path / "kept", *box, "--no-enlarge"], capsys)[0] == 0
    assert Image.open(tmp_path / "kept" / "dot.png").size == (1, 1)
    assert Image.open(tmp_path / "kept" / "wide.png").size == (256, 100)  # cropped to the box's width only


def test_strip(tmp_path, capsys):
    img = Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways
    exif[ExifTags.Base.Artist] = "someone"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(tmp_path / "a.jpg", exif=exif, icc_profile=icc, dpi=(300, 300), quality=95)
    assert _run(["resize", tmp_path / "a.jpg", "-o", tmp_path / "kept.jpg", "--scale", "1"], capsys)[0] == 0
    with Image.open(tmp_path / "kept.jpg") as im:  # the control: kept without --strip
        assert im.info.get("icc_profile") == icc and im.getexif()[ExifTags.Base.Artist] == "someone"
    assert _run(["resize", tmp_path / "a.jpg", "-o", tmp_path / "s.jpg", "--scale", "1", "--strip"], capsys)[0] == 0
    with Image.open(tmp_path / "s.jpg") as im:
        assert "icc_profile" not in im.info and len(im.getexif()) == 0 and "exif" not in im.info
        assert im.size == (20, 30)  # the orientation was applied to the pixels before it was stripped
        assert im.info["dpi"] == pytest.approx((300, 300))
    # rescale down's record is what rescale up needs: it stays
    argv = ["down", tmp_path / "a.jpg", "-o", tmp_path / "d.jpg", "--scale", "0.5", "--method", "bicubic", "--strip"]
    assert _run(argv, capsys)[0] == 0
    record = read_provenance(tmp_path / "d.jpg")
    assert record is not None and record.original_size == (20, 30)
    with Image.open(tmp_path / "d.jpg") as im:
        assert "icc_profile" not in im.info and ExifTags.Base.Artist not in im.getexif()


def test_output_file_with_several_inputs_is_one_usage_error(tmp_path, capsys):
    for name in ("a.png", "b.png"):
        Image.new("L", (4, 4)).save(tmp_path / name)
    (tmp_path / "existing.png").write_bytes(b"keep me")
    code, out, err = _run(
        ["resize", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "existing.png"] + ["--scale", "0.5"], capsys
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "is a file" in err and "-o DIR" in err and "Error" not in err
    assert (tmp_path / "existing.png").read_bytes() == b"keep me"
    code, _, err = _run(
        ["resize", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "new.png", "--scale", "0.5"], capsys
    )
    assert code == 2 and "looks like a file name" in err and not (tmp_path / "new.png").exists()


def test_dry_run_fails_what_the_run_fails(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    photo = Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    photo.save(src / "good.png")
    for name, fmt in (
        ("cut_png.png", "PNG"),
        ("cut_jpg.jpg", "JPEG"),
        ("cut_tif.tiff", "TIFF"),
        ("cut_webp.webp", "WEBP"),
    ):
        buf = io.BytesIO()
        photo.save(buf, fmt)
        (src / name).write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    Image.new("L", (300, 300)).save(src / "huge.png")  # over --max-pixels
    Image.new("F", (8, 8)).save(src / "float.tiff")  # F cannot be written as PNG
    argv = ["resize", src, "-o", tmp_path / "out", "--scale", "0.5", "--format", "png", "--max-pixels", "50000"]
    code, out, _ = _run([*argv, "--dry-run", "--json"], capsys)
    planned = {Path(r["input"]).name: r for r in map(json.loads, out.splitlines()[:-1])}
    assert code == 1 and not (tmp_path / "out").exists()
    code, out, _ = _run([*argv, "--json"], capsys)
    done = {Path(r["input"]).name: r for r in map(json.loads, out.splitlines()[:-1])}
    assert code == 1
    assert (
        {n for n, r in planned.items() if r["status"] == "failed"}
        == {n for n, r in done.items() if r["status"] == "failed"}
        == {"cut_png.png", "cut_jpg.jpg", "cut_tif.tiff", "cut_webp.webp", "huge.png", "float.tiff"}
    )
    assert planned["good.png"]["status"] == "planned" and planned["good.png"]["out_size"] == [32, 32]
    assert all(
        "truncated" in planned[n]["error"] for n in ("cut_png.png", "cut_jpg.jpg", "cut_tif.tiff", "cut_webp.webp")
    )
    assert "decompression-bomb" in planned["huge.png"]["error"] and "TIFF" in planned["float.tiff"]["error"]


def test_stdin_and_stdout(tmp_path, capsys, monkeypatch):
    photo = Image.fromarray(RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    photo.save(tmp_path / "a.png")
    assert _run(["resize", tmp_path / "a.png", "-o", tmp_path / "ref.png", "--scale", "0.5"], capsys)[0] == 0
    ref = np.asarray(Image.open(tmp_path / "ref.png"))
    # stdin -> stdout, through a real pipe
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from rescale.cli import main; sys.exit(main())",
            "resize",
            "-",
            "-o",
            "-",
            "--scale",
            "0.5",
            "-v",
        ],
        input=(tmp_path / "a.png").read_bytes(),
        capture_output=True,
        check=True,
    )
    with Image.open(io.BytesIO(run.stdout)) as im:
        assert im.format == "PNG" and np.array_equal(np.asarray(im), ref)
    assert b"<stdin> -> <stdout>" in run.stderr
    # stdin -> a file, in this process
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((tmp_path / "a.png").read_bytes())))
    assert _run(["resize", "-", "-o", tmp_path / "b.webp", "--scale", "0.5"], capsys)[0] == 0
    assert Image.open(tmp_path / "b.webp").size == (30, 20)
    code, _, err = _run(["resize", tmp_path / "a.png", tmp_path / "ref.png", "-o", "-", "--scale", "0.5"], capsys)
    assert code == 2 and "one input" in err
    # -q keeps the errors, which go to stderr with the rest when the image goes to stdout
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"not an image")))
    code, out, err = _run(["resize", "-", "-o", "-", "--scale", "0.5", "-q"], capsys)
    assert code == 1 and out == "" and "failed: <stdin>: not an image file" in err


def test_eval_help_is_for_users(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "Score a rescaling method" in out and "examples:" in out and "--method" in out
    assert ":func:" not in out and "Register" not in out


@pytest.mark.parametrize(
    "layout",
    [{"byteorder": ">"}, {"tile": (16, 16)}, {"compression": "zlib"}, {"compression": "zlib", "predictor": True}],
    ids=["big-endian", "tiled", "deflate", "deflate-predictor"],
)
def test_sixteen_bit_tiff_layouts(tmp_path, capsys, layout):
    tifffile = pytest.importorskip("tifffile")  # an independent writer of the TIFF variants cameras and scanners make
    arr = RNG.integers(0, 65536, (33, 47, 4), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", arr, photometric="rgb", extrasamples=["unassalpha"], **layout)
    assert _run(["resize", tmp_path / "in.tif", "-o", tmp_path / "out.tif", "--scale", "1"], capsys)[0] == 0
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), arr)


def test_sixteen_bits_on_the_batched_path(tmp_path):
    # --device cuda batches 8-bit images; a 16-bit colour file goes whole through the per-file path
    pytest.importorskip("torch")
    from rescale.batch import Options, plan_jobs, run_jobs

    arr = RNG.integers(0, 65536, (10, 14, 3), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    _write16(tmp_path / "in" / "deep.png", arr)
    Image.new("RGB", (14, 10)).save(tmp_path / "in" / "flat.png")
    jobs = plan_jobs([str(tmp_path / "in")], tmp_path / "out").jobs
    results = {r.name: r for r in run_jobs(jobs, Options(Target(scale=(1.0, 1.0)), "bicubic"), device="cpu")}
    assert results["deep.png"].mode == "RGB;16" and results["flat.png"].mode == "RGB"
    assert np.array_equal(_read16(tmp_path / "out" / "deep.png"), arr)


def test_down_with_a_reduction_factor_names_the_scale_to_use(tmp_path, capsys):
    # rescale.down(img, 2) takes a reduction factor; the CLI's --scale is output over input.
    src = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(src)
    assert main(["down", str(src), "-o", str(tmp_path / "o"), "--scale", "2"]) == 2
    assert "did you mean --scale 0.5?" in capsys.readouterr().err
    assert main(["down", str(src), "-o", str(tmp_path / "o"), "--scale", "2x4"]) == 2
    assert "did you mean --scale 0.5x0.25?" in capsys.readouterr().err
