"""``rescale resize --linear``: linear-light resampling of files, with each file's ICC tone curves."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from rescale.batch import Options, Target, plan_jobs, run_jobs
from rescale.batch.inplace import signature
from rescale.cli import main

from helpers import para, srgb_profile, with_tone_curves

BOARD = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)


def resize(capsys, *argv) -> tuple[int, list[dict]]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def levels(path) -> set[int]:
    with Image.open(path) as im:
        return set(np.unique(np.asarray(im)).tolist())


def test_checkerboard_files(tmp_path, capsys):
    """sRGB (no profile, littleCMS's sRGB profile) gives the mean light, 187-188; a profile with a
    gamma 1.8 curve its own mean light; without --linear, 127-128; the profile is kept."""
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(BOARD).save(src / "grey.png")
    rgb = Image.fromarray(BOARD).convert("RGB")
    rgb.save(src / "srgb.png", icc_profile=srgb_profile())
    gamma18 = with_tone_curves(srgb_profile(), para(1.8))
    rgb.save(src / "gamma18.png", icc_profile=gamma18)
    code, _ = resize(capsys, "resize", src, "-o", tmp_path / "lin", "--scale", "0.125", "--linear", "--json")
    assert code == 0
    assert levels(tmp_path / "lin" / "grey.png") <= {187, 188}
    assert levels(tmp_path / "lin" / "srgb.png") <= {187, 188}
    want = round(255 * 0.5 ** (1 / 1.8))  # 173
    assert levels(tmp_path / "lin" / "gamma18.png") <= {want - 1, want, want + 1}
    with Image.open(tmp_path / "lin" / "gamma18.png") as im:
        assert im.info.get("icc_profile") == gamma18
    assert resize(capsys, "resize", src, "-o", tmp_path / "plain", "--scale", "0.125", "--json")[0] == 0
    assert levels(tmp_path / "plain" / "grey.png") <= {127, 128}


def test_profile_without_tone_curves_is_srgb_with_a_note(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(BOARD).convert("RGB").save(src / "lut.png", icc_profile=with_tone_curves(srgb_profile(), None))
    code, records = resize(capsys, "resize", src, "-o", tmp_path / "out", "--scale", "0.125", "--linear", "--json")
    assert code == 0 and levels(tmp_path / "out" / "lut.png") <= {187, 188}
    assert "as sRGB" in records[0]["note"]


def test_batched_path_resamples_each_profile_with_its_curves(tmp_path):
    """The --device path (same-size images in one batch; here on the CPU) keeps files with different
    curves apart and gives the per-file path's result."""
    src = tmp_path / "in"
    src.mkdir()
    rgb = Image.fromarray(BOARD).convert("RGB")
    for i in range(2):
        rgb.save(src / f"srgb{i}.png")
        rgb.save(src / f"gamma{i}.png", icc_profile=with_tone_curves(srgb_profile(), para(1.8)))
    opts = Options(Target(scale=(0.125, 0.125)), method="bicubic", linear=True)
    per_file = list(run_jobs(plan_jobs([src], tmp_path / "a").jobs, opts, workers=1))
    batched = list(run_jobs(plan_jobs([src], tmp_path / "b").jobs, opts, workers=2, device="cpu", batch_size=4))
    assert all(r.status == "done" for r in per_file + batched)
    for name in ("srgb0.png", "srgb1.png", "gamma0.png", "gamma1.png"):
        a, b = levels(tmp_path / "a" / name), levels(tmp_path / "b" / name)
        assert a == b and (a <= {187, 188}) == name.startswith("srgb"), (name, a)


def test_learned_methods_refuse_linear(tmp_path, capsys):
    Image.fromarray(BOARD).save(tmp_path / "a.png")
    argv = ["resize", tmp_path / "a.png", "-o", tmp_path / "b.png", "--scale", "0.5", "--method", "irn", "--linear"]
    assert main([str(a) for a in argv]) == 2
    assert "--linear is for the filters" in capsys.readouterr().err


def test_in_place_marks_name_linear_only_when_set():
    """In-place runs skip files their own command wrote (rescale.batch.inplace): --linear is a
    different command, and without it the mark stays what earlier versions wrote (the value from
    before --linear existed), so their files are not resized twice."""
    plain = Options(Target(scale=(0.5, 0.5)))
    assert signature(plain, "PNG") == "55e8b588e68590fd"
    assert signature(Options(Target(scale=(0.5, 0.5)), linear=True), "PNG") != signature(plain, "PNG")
