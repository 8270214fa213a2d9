"""rescale eval end to end: the protocol per method kind, the CLI, JSON and the HTML report, on
generated images (no shared data) checked against an independent numpy pipeline, plus the
literature's bicubic numbers on Set5 when the shared data is present."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from rescale import methods
from rescale.cli import main as rescale_main
from rescale.cli.eval import add_parser, run
from rescale.eval.datasets import bicubic_lr
from rescale.eval.protocol import Storage, evaluate
from rescale.methods import Method

from matlab_port import matlab_imresize  # the independent MATLAB imresize port

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def main(argv: list[str]) -> int:
    """``rescale eval ARGV``."""
    return rescale_main(["eval", *argv])


def _image(rng, h, w, grey=False):
    """Smooth structure plus noise: a realistic PSNR range for bicubic (20-40 dB)."""
    yy, xx = np.mgrid[0:h, 0:w]
    chans = 1 if grey else 3
    base = [128 + 90 * np.sin(xx / (3 + c) + yy / (5 + 2 * c)) for c in range(chans)]
    img = np.stack(base, -1) + rng.normal(0, 12, (h, w, chans))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if grey else img


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A data root with set "A": two RGB images and one greyscale, odd sizes; LPIPS forced n/a."""
    rng = np.random.default_rng(0)
    (tmp_path / "A").mkdir()
    Image.fromarray(_image(rng, 50, 61)).save(tmp_path / "A" / "x.png")
    Image.fromarray(_image(rng, 45, 38)).save(tmp_path / "A" / "y.png")
    Image.fromarray(_image(rng, 40, 43, grey=True)).save(tmp_path / "A" / "z.png")
    monkeypatch.setenv("RESCALE_LPIPS_WEIGHTS", str(tmp_path / "no-weights"))
    return tmp_path


def _oracle_psnr_y(path: Path, s: int) -> float:
    """bicubic & bicubic, Y-PSNR, MATLAB style, computed with numpy only."""
    img = np.asarray(Image.open(path))
    grey = img.ndim == 2
    rgb = np.repeat(img[..., None], 3, -1) if grey else img
    h, w = rgb.shape[0] // s * s, rgb.shape[1] // s * s
    hr = rgb[:h, :w]
    sr = matlab_imresize(matlab_imresize(hr, h // s, w // s), h, w)
    if grey:  # MATLAB scripts score one-channel images directly
        y_hr, y_sr = hr[..., 0].astype(np.float64), sr[..., 0].astype(np.float64)
    else:
        luma = lambda a: 16 + a.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255  # noqa: E731
        y_hr, y_sr = luma(hr), luma(sr)
    mse = np.mean((y_hr[s:-s, s:-s] - y_sr[s:-s, s:-s]) ** 2)
    return 10 * math.log10(255**2 / mse)


def test_cli_bicubic_matches_numpy_oracle_and_writes_json_and_report(folder, capsys):
    out = folder / "out"
    rc = main(
        [
            "--method",
            "bicubic",
            "--scale",
            "2",
            "--scale",
            "3",
            "--data",
            str(folder),
            "--sets",
            "A",
            "--json",
            str(out / "r.json"),
            "--report",
            str(out / "report"),
        ]
    )
    assert rc == 0
    table = capsys.readouterr().out
    assert "| A | x2 | 3 |" in table and "| A | x3 | 3 |" in table and "LPIPS n/a" in table
    doc = json.loads((out / "r.json").read_text())
    assert doc["method"] == "bicubic" and doc["kind"] == "classical"
    for res in doc["results"]:
        s = int(res["scale_x"])
        for im in res["per_image"]:
            assert im["psnr_y"] == pytest.approx(_oracle_psnr_y(folder / "A" / im["name"], s), abs=1e-9), (
                s,
                im["name"],
            )
            assert im["lr_psnr_y"] == "inf"  # classical bicubic makes exactly the reference LR
            assert im["lpips"] is None and 0 < im["ssim_y"] < 1 and im["psnr_rgb"] < 60
        assert res["psnr_y"] == pytest.approx(np.mean([im["psnr_y"] for im in res["per_image"]]))
    html = (out / "report" / "index.html").read_text()
    assert "psnr_vs_scale.png" in html and (out / "report" / "psnr_vs_scale.png").stat().st_size > 1000
    crops = sorted((out / "report" / "crops").glob("*.png"))
    assert len(crops) == 2 * 2 * 2  # 2 scales x 2 images x (HR, method): bicubic is the method, shown once
    assert all(f"crops/{c.name}" in html for c in crops)
    assert Image.open(crops[0]).size[0] % 3 == 0  # zoomed x3


def _oracle_stored_psnr_y(path: Path, s: int, codec: str, quality: int) -> tuple[float, float]:
    """bicubic down, the LR through a Pillow file, bicubic up: (Y-PSNR, bits per HR pixel), numpy only."""
    import io

    rgb = np.asarray(Image.open(path).convert("RGB"))
    h, w = rgb.shape[0] // s * s, rgb.shape[1] // s * s
    hr = rgb[:h, :w]
    buf = io.BytesIO()
    Image.fromarray(matlab_imresize(hr, h // s, w // s)).save(buf, codec, quality=quality)
    stored = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    sr = matlab_imresize(stored, h, w)
    luma = lambda a: 16 + a.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255  # noqa: E731
    mse = np.mean((luma(hr)[s:-s, s:-s] - luma(sr)[s:-s, s:-s]) ** 2)
    return 10 * math.log10(255**2 / mse), 8 * len(buf.getvalue()) / (h * w)


def test_cli_several_qualities_in_one_run_match_a_pillow_oracle(folder, capsys):
    out = folder / "out"
    argv = ["--method", "bicubic", "--scale", "2", "--data", str(folder), "--sets", "A", "--limit", "2"]
    argv += ["--jpeg", "90", "40", "--webp", "70", "--lossless", "--json", str(out / "r.json")]
    assert main(argv + ["--report", str(out / "report")]) == 0
    table = capsys.readouterr().out
    for label in ("lossless", "jpeg q90", "jpeg q40", "webp q70"):
        assert f"| A | x2 | {label} |" in table
    doc = json.loads((out / "r.json").read_text())
    assert doc["protocol"]["storage"] == ["lossless", "jpeg q90", "jpeg q40", "webp q70"]
    by_label = {r["storage"]: r for r in doc["results"]}
    for label, codec, q in (("jpeg q90", "JPEG", 90), ("jpeg q40", "JPEG", 40), ("webp q70", "WEBP", 70)):
        for im in by_label[label]["per_image"]:
            want_psnr, want_bpp = _oracle_stored_psnr_y(folder / "A" / im["name"], 2, codec, q)
            assert im["psnr_y"] == pytest.approx(want_psnr, abs=1e-9) and im["bpp"] == pytest.approx(want_bpp)
            assert im["lr_psnr_y"] == "inf"  # the LR as made, before storage: bicubic's own
    assert by_label["lossless"]["psnr_y"] > by_label["jpeg q90"]["psnr_y"] > by_label["jpeg q40"]["psnr_y"]
    assert by_label["jpeg q90"]["bpp"] > by_label["jpeg q40"]["bpp"]
    html = (out / "report" / "index.html").read_text()
    assert "rate_distortion.png" in html and (out / "report" / "rate_distortion.png").stat().st_size > 1000
    assert "LR stored as jpeg q40" in html


class BlockRescaler(Method):
    """Toy rescaler: block mean down, block repeat up, each adding 0.4 of an 8-bit level; exact on
    block-constant images only if the LR is rounded to 8 bits in between (0.8 would round up)."""

    name, kind = "toy-rescaler", "rescaler"

    def down(self, x, size):
        return F.avg_pool2d(x, x.shape[-1] // size[0]) + 0.4 / 255

    def up(self, x, size):
        s = size[0] // x.shape[-1]
        return x.repeat_interleave(s, -1).repeat_interleave(s, -2) + 0.4 / 255


class NearestUpscaler(Method):
    name, kind = "toy-up", "upscaler"

    def __init__(self):
        self.seen = []

    def up(self, x, size):
        self.seen.append(x.clone())
        s = size[0] // x.shape[-1]
        return x.repeat_interleave(s, -1).repeat_interleave(s, -2)


def test_rescaler_lr_is_the_methods_own_quantised_and_jpeg_applies(tmp_path):
    rng = np.random.default_rng(1)
    (tmp_path / "B").mkdir()
    small = rng.integers(0, 256, (12, 15, 3), dtype=np.uint8)
    Image.fromarray(small.repeat(4, 0).repeat(4, 1)).save(tmp_path / "B" / "blocks.png")  # 48x60, 4x4 blocks
    (res,) = evaluate(BlockRescaler(), ["B"], [(4, 4)], data=tmp_path)
    (im,) = res.images
    assert math.isinf(im["psnr_y"]) and math.isinf(im["psnr_rgb"]) and im["ssim_y"] == pytest.approx(1.0)
    assert 10 < im["lr_psnr_y"] < 60  # block means against MATLAB bicubic: close, not equal
    (jpeg,) = evaluate(BlockRescaler(), ["B"], [(4, 4)], data=tmp_path, storages=[Storage("jpeg", 30)])
    assert 15 < jpeg.images[0]["psnr_y"] < 45
    assert jpeg.images[0]["lr_psnr_y"] == im["lr_psnr_y"]  # the method's own LR, before storage


def test_upscaler_gets_the_bicubic_lr_through_the_registry(folder, monkeypatch, capsys):
    toy = NearestUpscaler()
    monkeypatch.setitem(methods._LEARNED, "toy-up", lambda **kw: toy)
    assert (
        main(
            [
                "--method",
                "toy-up",
                "--scale",
                "2",
                "--data",
                str(folder),
                "--sets",
                "A",
                "--limit",
                "1",
                "--json",
                str(folder / "u.json"),
            ]
        )
        == 0
    )
    hr = torch.from_numpy(np.asarray(Image.open(folder / "A" / "x.png")).copy()).permute(2, 0, 1)[None]
    _, lr = bicubic_lr(hr, 2)
    (seen,) = toy.seen
    assert torch.equal((seen * 255).round().to(torch.uint8), lr)
    doc = json.loads((folder / "u.json").read_text())
    assert doc["kind"] == "upscaler" and doc["results"][0]["lr_psnr_y"] is None
    assert "| A | x2 | 1 |" in capsys.readouterr().out


def test_asymmetric_scale(folder):
    (res,) = evaluate("bilinear", ["A"], [(2, 3)], data=folder, limit=1)
    assert res.summary()["scale_y"] == 3 and 15 < res.images[0]["psnr_y"] < 45


def test_add_parser_registers_eval_with_run():
    parser = argparse.ArgumentParser(prog="rescale")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["eval", "--method", "lanczos", "--scale", "2", "--scale", "4", "--jpeg", "75", "--limit", "3"]
    )
    assert args.func is run and args.scale == [2.0, 4.0] and args.jpeg == [75] and args.limit == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--jpeg", "0"])


def test_cli_errors_are_reported(folder, capsys):
    assert main(["--data", str(folder), "--sets", "Nope"]) == 1
    assert "no image folder 'Nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "--data",
                str(folder),
                "--sets",
                "A",
                "--scale",
                "2",
                "--scale",
                "4",
                "--scale-y",
                "2",
                "--scale-y",
                "3",
                "--scale-y",
                "4",
            ]
        )
        == 1
    )
    assert "--scale-y" in capsys.readouterr().err
    assert main(["--method", "no-such-method"]) == 1
    assert "unknown method" in capsys.readouterr().err


@pytest.mark.skipif(
    not (SHARED / "Set5").is_dir(),
    reason=f"shared data not found at {SHARED} (../shared/data from the repository root)",
)
def test_bicubic_reproduces_the_literature_on_set5():
    # IRN paper, Table 1, "Bicubic & Bicubic", Y-PSNR: x2 33.66, x4 28.42
    x2, x4 = evaluate("bicubic", ["Set5"], [(2, 2), (4, 4)], data=SHARED)
    assert x2.summary()["psnr_y"] == pytest.approx(33.66, abs=0.05)
    assert x4.summary()["psnr_y"] == pytest.approx(28.42, abs=0.05)
