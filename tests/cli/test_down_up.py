"""End-to-end tests of ``rescale down`` / ``rescale up`` (rescale/cli/down.py, up.py) and the record they
keep in the files (rescale/batch/provenance.py), in temporary folders.

Sizes are checked against the size rule, the records by reading the files with Pillow directly
(PNG text chunks, the EXIF UserComment), filter pixels against Pillow's own ``resize`` (rescale is
Pillow-exact on 8-bit), and IRN's round trip against bicubic on a real photograph."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image

import rescale
from rescale.batch import Options, Target, plan_jobs, process_file, provenance
from rescale.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
PIL_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "bilinear": Image.Resampling.BILINEAR,
}
W, H = 333, 217  # odd on both axes


def _photo_like(seed: int = 0, size=(W, H)) -> Image.Image:
    """Smooth content with some texture (JPEG keeps it recognisable)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([120 + 80 * np.sin(xx / 17.0), 120 + 80 * np.cos(yy / 11.0), 60 + (xx + yy) * 0.25], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def _run(argv, capsys):
    code = main([*argv, "--workers", "1"])
    out, err = capsys.readouterr()
    return code, out, err


def _exif_comment(path: Path) -> bytes | None:
    """The EXIF UserComment, read with Pillow only."""
    with Image.open(path) as im:
        return im.getexif().get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.UserComment)


def _exif_record(path: Path) -> dict | None:
    """The rescale record in the EXIF UserComment (ASCII code, then JSON), or None."""
    comment = _exif_comment(path)
    if comment is None or not comment.startswith(b"ASCII\0\0\0{"):
        return None
    return json.loads(comment[8:])["rescale"]


def _psnr(a, b) -> float:
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(10 * np.log10(255.0**2 / np.mean(d**2)))


@pytest.mark.parametrize("fmt", ["png", "jpg"])
@pytest.mark.parametrize(
    "method, scale, lr_size",
    [
        ("irn", "0.5", (167, 109)),
        ("iarn", "0.4x0.7", (133, 152)),
        ("bicubic", "0.5x0.3", (167, 65)),
        ("lanczos", "0.37x0.81", (123, 176)),
    ],
)
def test_round_trip_restores_the_original_size(tmp_path, capsys, fmt, method, scale, lr_size):
    src = tmp_path / f"photo.{fmt}"
    original = _photo_like()
    original.save(src, **({"quality": 95} if fmt == "jpg" else {}))
    with Image.open(src) as im:
        decoded = im.convert("RGB")

    code, out, err = _run(["down", str(src), "-o", str(tmp_path / "lr"), "--scale", scale, "--method", method], capsys)
    assert code == 0, err
    lr_path = tmp_path / "lr" / src.name
    sx, sy = (float(v) for v in (scale.split("x") * 2)[:2])
    with Image.open(lr_path) as im:
        assert im.size == lr_size == rescale.output_size(W, H, sx, sy)
        lr = im.convert("RGB")
        if fmt == "png":
            assert (im.text["rescale:original-size"], im.text["rescale:method"], im.text["rescale:lr-size"]) == (
                f"{W}x{H}",
                method,
                "{}x{}".format(*lr_size),
            )
    if fmt == "jpg":  # the quality it was written at (the default, 90) too
        record = {"original_size": [W, H], "method": method, "lr_size": list(lr_size), "quality": 90}
        assert _exif_record(lr_path) == record
    assert provenance.read(lr_path) == provenance.Provenance(
        (W, H), method, lr_size, quality=90 if fmt == "jpg" else None
    )

    if method in PIL_FILTERS and fmt == "png":  # down is the antialiased filter: Pillow's resize
        np.testing.assert_array_equal(np.asarray(lr), np.asarray(decoded.resize(lr_size, PIL_FILTERS[method])))

    code, out, err = _run(["up", str(lr_path), "-o", str(tmp_path / "hr"), "-v"], capsys)  # no size, no method
    assert code == 0, err
    assert f"with {method}" in out
    with Image.open(tmp_path / "hr" / src.name) as im:
        assert im.size == (W, H)
        hr = im.convert("RGB")
        if fmt == "png":
            assert not any(k.startswith("rescale:") for k in im.text)  # the HR is not an LR any more
    assert provenance.read(tmp_path / "hr" / src.name) is None
    if method in PIL_FILTERS and fmt == "png":  # up used the recorded filter
        np.testing.assert_array_equal(np.asarray(hr), np.asarray(lr.resize((W, H), PIL_FILTERS[method])))
    assert _psnr(hr, decoded) > 20  # the same picture, not merely the same size


@pytest.mark.skipif(
    not (DATA / "Set14" / "monarch.png").is_file(),
    reason="needs ../shared/data/Set14/monarch.png (the project's data folder)",
)
def test_irn_round_trip_beats_bicubic_on_a_photo(tmp_path, capsys):
    with Image.open(DATA / "Set14" / "monarch.png") as im:
        photo = im.convert("RGB").crop((200, 150, 200 + W, 150 + H))
    photo.save(tmp_path / "monarch.png")
    assert (
        _run(["down", str(tmp_path / "monarch.png"), "-o", str(tmp_path / "lr"), "--scale", "0.5"], capsys)[0] == 0
    )  # irn by default
    assert _run(["up", str(tmp_path / "lr"), "-o", str(tmp_path / "hr")], capsys)[0] == 0
    with Image.open(tmp_path / "lr" / "monarch.png") as lr, Image.open(tmp_path / "hr" / "monarch.png") as hr:
        assert lr.size == (167, 109) and hr.size == (W, H)
        # An ordinary-looking LR: close to bicubic (of the image edge-padded to 334x218, as IRN pads odd sizes).
        padded = Image.fromarray(np.pad(np.asarray(photo), ((0, 1), (0, 1), (0, 0)), mode="edge"))
        assert _psnr(lr, padded.resize(lr.size, Image.Resampling.BICUBIC)) > 33  # measured: 36.2 dB
        irn = _psnr(hr, photo)
    bicubic = _psnr(photo.resize((167, 109), Image.Resampling.BICUBIC).resize((W, H), Image.Resampling.BICUBIC), photo)
    assert irn > bicubic + 5, (irn, bicubic)  # measured: 36.2 dB against 26.7 dB


def test_explicit_size_and_method_win(tmp_path, capsys):
    _photo_like(1).save(tmp_path / "a.png")
    assert (
        _run(
            ["down", str(tmp_path / "a.png"), "-o", str(tmp_path / "lr"), "--scale", "0.5", "--method", "lanczos"],
            capsys,
        )[0]
        == 0
    )
    lr_path = tmp_path / "lr" / "a.png"
    with Image.open(lr_path) as im:
        lr = im.convert("RGB")

    for argv, size in (
        (["--size", "400x300"], (400, 300)),
        (["--scale", "2"], (334, 218)),
        (["--scale", "3x2"], (501, 218)),
    ):
        code, _, err = _run(["up", str(lr_path), "-o", str(tmp_path / "big.png"), "--overwrite", *argv], capsys)
        assert code == 0, err
        with Image.open(tmp_path / "big.png") as im:
            assert im.size == size, argv
            np.testing.assert_array_equal(
                np.asarray(im), np.asarray(lr.resize(size, Image.Resampling.LANCZOS))
            )  # recorded method

    code, _, err = _run(["up", str(lr_path), "-o", str(tmp_path / "bl.png"), "--method", "bilinear"], capsys)
    assert code == 0, err
    with Image.open(tmp_path / "bl.png") as im:  # the recorded size, the given method
        np.testing.assert_array_equal(np.asarray(im), np.asarray(lr.resize((W, H), Image.Resampling.BILINEAR)))


def test_missing_or_stale_record_is_a_per_file_error(tmp_path, capsys):
    folder = tmp_path / "lr"
    _photo_like(2).save(tmp_path / "a.jpg", quality=95)
    assert (
        _run(["down", str(tmp_path / "a.jpg"), "-o", str(folder), "--scale", "0.5", "--method", "bicubic"], capsys)[0]
        == 0
    )
    _photo_like(3, (40, 30)).save(folder / "plain.png")
    _photo_like(4, (40, 30)).save(folder / "plain.jpg")
    # rescale resize keeps EXIF (so the record), but the file is no longer the size it describes.
    assert _run(["resize", str(folder / "a.jpg"), "-o", str(tmp_path / "edited"), "--scale", "0.5"], capsys)[0] == 0
    (tmp_path / "edited" / "a.jpg").rename(folder / "edited.jpg")
    bad = folder / "garbled.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("rescale:original-size", "banana")
    _photo_like(5, (40, 30)).save(bad, pnginfo=info)

    out = tmp_path / "hr"
    code, stdout, stderr = _run(["up", str(folder), "-o", str(out)], capsys)
    assert code == 1
    assert "1 done, 0 skipped, 4 failed" in stdout
    failures = {
        Path(line.split(": ", 2)[1]).name: line.split(": ", 2)[2]
        for line in stderr.splitlines()
        if line.startswith("failed: ")
    }
    assert failures["plain.png"] == f"no original size stored in {folder / 'plain.png'}; give --scale or --size"
    assert failures["plain.jpg"] == f"no original size stored in {folder / 'plain.jpg'}; give --scale or --size"
    assert "changed since rescale down" in failures["edited.jpg"] and "give --scale or --size" in failures["edited.jpg"]
    assert "malformed rescale metadata" in failures["garbled.png"] and "banana" in failures["garbled.png"]
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg"]
    with Image.open(out / "a.jpg") as im:
        assert im.size == (W, H)

    # Given a size (and a method), the same files go through.
    code, _, stderr = _run(
        [
            "up",
            str(folder / "plain.png"),
            str(folder / "edited.jpg"),
            "-o",
            str(out),
            "--scale",
            "2",
            "--method",
            "bicubic",
        ],
        capsys,
    )
    assert code == 0, stderr
    with Image.open(out / "plain.png") as im:
        assert im.size == (80, 60)


def test_record_keeps_the_rest_of_the_exif_in_every_format(tmp_path, capsys):
    # Stored sideways (orientation 6): upright it is 217 wide, 333 high.
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = b"ASCII\0\0\0holiday"
    _photo_like(6).save(tmp_path / "cam.jpg", quality=95, exif=exif.tobytes())
    for fmt in ("jpg", "webp", "tiff", "png"):
        lr_dir = tmp_path / f"lr_{fmt}"
        code, _, err = _run(
            [
                "down",
                str(tmp_path / "cam.jpg"),
                "-o",
                str(lr_dir),
                "--scale",
                "0.5",
                "--method",
                "box",
                "--format",
                fmt,
            ],
            capsys,
        )
        assert code == 0, err
        (lr_path,) = lr_dir.iterdir()
        with Image.open(lr_path) as im:
            assert im.size == (109, 167)
            kept = im.getexif()
            assert kept[ExifTags.Base.Make] == "TestCam" and ExifTags.Base.Orientation not in kept
        if fmt == "png":  # the text chunks hold the record; the EXIF keeps the input's comment
            assert _exif_comment(lr_path) == b"ASCII\0\0\0holiday"
        else:  # the record takes the comment's place
            quality = {"quality": 90} if fmt in ("jpg", "webp") else {}
            want = {"original_size": [217, 333], "method": "box", "lr_size": [109, 167], **quality}
            assert _exif_record(lr_path) == want
        assert provenance.read(lr_path).original_size == (217, 333)

        code, _, err = _run(["up", str(lr_path), "-o", str(tmp_path / f"hr_{fmt}")], capsys)
        assert code == 0, err
        (hr_path,) = (tmp_path / f"hr_{fmt}").iterdir()
        with Image.open(hr_path) as im:
            assert im.size == (217, 333) and im.getexif()[ExifTags.Base.Make] == "TestCam"
        assert _exif_record(hr_path) is None
        assert _exif_comment(hr_path) == (b"ASCII\0\0\0holiday" if fmt == "png" else None)  # only the record is removed


def test_resize_writes_no_record(tmp_path, capsys):
    _photo_like(7).save(tmp_path / "a.png")
    _photo_like(7).save(tmp_path / "a.jpg")
    assert (
        _run(
            ["resize", str(tmp_path / "a.png"), str(tmp_path / "a.jpg"), "-o", str(tmp_path / "out"), "--scale", "0.5"],
            capsys,
        )[0]
        == 0
    )
    for name in ("a.png", "a.jpg"):
        assert provenance.read(tmp_path / "out" / name) is None
        assert _exif_comment(tmp_path / "out" / name) is None


def test_json_dry_run_and_process_pool(tmp_path):
    """The installed program as a script (two worker processes): JSON lines with the method used."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        _photo_like(10 + i, (64 + i, 48)).save(src / f"p{i}.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")

    def cli(*argv):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *argv, "--json", "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        return proc.returncode, lines.pop()["summary"], {Path(r["input"]).name: r for r in lines}

    code, summary, rows = cli("down", str(src), "-o", str(tmp_path / "lr"), "--scale", "0.5", "--method", "irn")
    assert code == 1 and (summary["done"], summary["failed"]) == (3, 1)
    assert rows["broken.png"]["status"] == "failed" and rows["broken.png"]["error"]
    for i, lr_width in enumerate((32, 33, 33)):  # round(w / 2), halves up
        r = rows[f"p{i}.png"]
        assert (r["status"], r["method"], r["size"], r["out_size"]) == ("done", "irn", [64 + i, 48], [lr_width, 24])

    code, summary, rows = cli("up", str(tmp_path / "lr"), "-o", str(tmp_path / "hr"), "--dry-run")
    assert code == 0 and summary["planned"] == 3 and not (tmp_path / "hr").exists()
    assert {n: (r["status"], r["out_size"], r["method"]) for n, r in rows.items()} == {
        f"p{i}.png": ("planned", [64 + i, 48], "irn") for i in range(3)
    }

    code, summary, rows = cli("up", str(tmp_path / "lr"), "-o", str(tmp_path / "hr"))
    assert code == 0 and summary["done"] == 3
    for i in range(3):
        with Image.open(tmp_path / "hr" / f"p{i}.png") as im:
            assert im.size == (64 + i, 48)


def test_usage_errors_and_direction_checks(tmp_path, capsys):
    _photo_like(8, (40, 30)).save(tmp_path / "a.png")
    for argv in (
        ["down", "--scale", "2"],
        ["down", "--scale", "0.5x1.5"],
        ["down"],
        ["down", "--scale", "0.5", "--method", "nope"],
        ["up", "--scale", "0.5"],
        ["up", "--method", "nope"],
    ):
        code, _, err = _run([argv[0], str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), *argv[1:]], capsys)
        assert code == 2 and "error" in err, argv
    for argv in (
        ["down", "--size", "9x9", "--fit", "cover"],
        ["up", "--scale", "2", "--size", "90x90"],
    ):  # cover would crop
        with pytest.raises(SystemExit):
            main([argv[0], str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), *argv[1:]])
    capsys.readouterr()
    # A box that would enlarge this file is a per-file error of down, a smaller size one of up.
    code, _, err = _run(["down", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--width", "80"], capsys)
    assert code == 1 and "enlarges" in err
    code, _, err = _run(["up", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--size", "20x60"], capsys)
    assert code == 1 and "shrinks" in err


def test_library_api_and_options_through_a_pickle(tmp_path):
    """What an engine running process_file elsewhere (a pickled Options) and library users see."""
    _photo_like(9, (50, 40)).save(tmp_path / "a.png")
    down = pickle.loads(pickle.dumps(Options(Target(scale=(0.5, 0.5)), "bilinear", direction="down")))
    (job,) = plan_jobs([tmp_path / "a.png"], tmp_path / "lr").jobs
    r = process_file(job, down)
    assert (r.status, r.out_size, r.method) == ("done", (25, 20), "bilinear")
    record = provenance.read(tmp_path / "lr" / "a.png")
    assert record == provenance.Provenance((50, 40), "bilinear", (25, 20))
    assert record.to_json() == {"original_size": [50, 40], "method": "bilinear", "lr_size": [25, 20]}

    up = pickle.loads(pickle.dumps(Options(None, None, direction="up")))
    (job,) = plan_jobs([tmp_path / "lr" / "a.png"], tmp_path / "hr").jobs
    r = process_file(job, up)
    assert (r.status, r.out_size, r.method) == ("done", (50, 40), "bilinear")
    with pytest.raises(provenance.ProvenanceError, match="method"):
        provenance.from_metadata({"rescale:original-size": "5x5", "rescale:lr-size": "2x2"}, None)
    assert provenance.from_metadata({}, None) is None


def test_tiff_outputs_keep_camera_exif_and_enlarge(tmp_path, capsys):
    """TIFF writing (shared with rescale resize): a camera JPEG's Exif sub-IFD is kept, and a TIFF's
    own layout tags (its old size among them) do not pass to the output."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = 0.5
    _photo_like(11, (30, 20)).save(tmp_path / "cam.jpg", exif=exif.tobytes())
    _photo_like(12, (30, 20)).save(tmp_path / "scan.tiff", compression="tiff_lzw")
    code, _, err = _run(
        [
            "resize",
            str(tmp_path / "cam.jpg"),
            str(tmp_path / "scan.tiff"),
            "-o",
            str(tmp_path / "out"),
            "--scale",
            "3",
            "--format",
            "tiff",
        ],
        capsys,
    )
    assert code == 0, err
    with Image.open(tmp_path / "out" / "cam.tiff") as im:
        assert im.size == (90, 60) and im.getexif()[ExifTags.Base.Make] == "TestCam"
        assert im.getexif().get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] == 0.5
    with Image.open(tmp_path / "out" / "scan.tiff") as im:
        assert im.size == (90, 60) and im.info["compression"] == "tiff_lzw"
        im.load()
