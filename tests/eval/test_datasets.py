"""rescale.eval.datasets: image folders, modcrop and the MATLAB imresize protocol, the latter against a
float64 numpy port of MATLAB's imresize.m written independently of rescale's tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rescale.eval.datasets import (
    ImageFolder,
    bicubic_lr,
    default_data_root,
    find_images,
    imresize_uint8,
    load_rgb,
    modcrop,
    resolve_set,
    scaled_sizes,
)
from rescale.methods import Classical

from matlab_port import matlab_imresize  # the independent MATLAB imresize port


def _nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0)


@pytest.mark.parametrize(
    "h, w, out_h, out_w",
    [
        (40, 52, 20, 26),
        (39, 51, 13, 17),
        (48, 64, 12, 16),
        (40, 52, 20, 13),
        (13, 17, 39, 51),
        (10, 12, 40, 48),
        (25, 30, 30, 20),
    ],
)
def test_imresize_uint8_matches_matlab_port(h, w, out_h, out_w):
    rng = np.random.default_rng(h * w + out_h)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ours = imresize_uint8(_nchw(img), (out_w, out_h))
    want = matlab_imresize(img, out_h, out_w)
    assert ours.dtype == torch.uint8 and ours.shape == (1, 3, out_h, out_w)
    # Exact: float64 weights agree to 1e-14 and both round half up after each pass in MATLAB's order.
    np.testing.assert_array_equal(ours[0].permute(1, 2, 0).numpy(), want)


def test_imresize_uint8_other_filter_and_bad_input():
    x = torch.randint(0, 256, (1, 3, 20, 20), dtype=torch.uint8)
    box = imresize_uint8(x, (10, 10), Classical("box", edge="symmetric"))
    # box x2: mean of row pairs, rounded to uint8, then mean of column pairs, rounded
    rows = torch.floor(x.double().view(1, 3, 10, 2, 20).mean(3) + 0.5)
    want = torch.floor(rows.view(1, 3, 10, 10, 2).mean(4) + 0.5)
    assert torch.equal(box, want.to(torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        imresize_uint8(x.float(), (10, 10))


def test_scaled_sizes_and_modcrop():
    assert scaled_sizes(513, 250, 2) == ((512, 250), (256, 125))
    assert scaled_sizes(513, 250, 4) == ((512, 248), (128, 62))
    assert scaled_sizes(100, 100, 3, 2) == ((99, 100), (33, 50))
    (hw, hh), (lw, lh) = scaled_sizes(101, 77, 1.5)
    assert (lw, lh) == (67, 51) and abs(hw / lw - 1.5) <= 0.5 / lw and abs(hh / lh - 1.5) <= 0.5 / lh
    x = torch.zeros(1, 3, 250, 513)
    assert modcrop(x, 4).shape == (1, 3, 248, 512)
    with pytest.raises(ValueError, match=">= 1"):
        scaled_sizes(10, 10, 0.5)
    with pytest.raises(ValueError, match="too small"):
        scaled_sizes(3, 10, 4)


def test_bicubic_lr_is_modcrop_then_matlab_resize():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (43, 50, 3), dtype=np.uint8)
    hr, lr = bicubic_lr(_nchw(img), 4)
    assert hr.shape == (1, 3, 40, 48)
    np.testing.assert_array_equal(lr[0].permute(1, 2, 0).numpy(), matlab_imresize(img[:40, :48], 10, 12))


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "sub").mkdir()
    Image.fromarray(rng.integers(0, 256, (8, 9, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(rng.integers(0, 256, (8, 9), dtype=np.uint8)).save(tmp_path / "sub" / "a.bmp")
    Image.fromarray(rng.integers(0, 256, (8, 9, 4), dtype=np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)] == ["a.png", "b.png", "sub/a.bmp"]
    ds = ImageFolder(tmp_path)
    names = [s.name for s in ds]
    assert names == ["a.png", "b.png", "sub/a.bmp"]
    grey = ds[2]
    assert grey.grey and grey.image.shape == (1, 3, 8, 9) and grey.image.dtype == torch.uint8
    assert torch.equal(grey.image[:, 0], grey.image[:, 1]) and torch.equal(grey.image[:, 0], grey.image[:, 2])
    rgba = ds[0]  # alpha dropped, colour kept
    assert not rgba.grey and torch.equal(
        rgba.image[0].permute(1, 2, 0), torch.from_numpy(np.asarray(Image.open(tmp_path / "a.png"))[..., :3].copy())
    )
    assert len(ImageFolder(tmp_path, limit=2)) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolder(tmp_path / "empty")


def test_load_rgb_rejects_16_bit(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(ValueError, match="8-bit"):
        load_rgb(tmp_path / "deep.png")


def test_data_root_is_a_parameter(tmp_path, monkeypatch):
    (tmp_path / "MySet").mkdir()
    monkeypatch.setenv("RESCALE_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    assert resolve_set("MySet") == tmp_path / "MySet"
    assert resolve_set(str(tmp_path / "MySet"), root="/nonexistent") == tmp_path / "MySet"  # a folder works too
    with pytest.raises(FileNotFoundError, match="RESCALE_DATA"):
        resolve_set("Set5", root=tmp_path)
    monkeypatch.delenv("RESCALE_DATA")
    repo = Path(__file__).resolve().parents[2]
    assert default_data_root() == repo.parent / "shared" / "data"  # ../shared/data from the checkout
