"""The two exact paths of PIL images and numpy arrays (``rescale.fastpath``): Pillow's own resize and
the CPU kernels give the same bits wherever the rule may pick Pillow, and the rule picks as documented.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import rescale
from rescale import fastpath
from rescale.filters import get_filter

from helpers import noise_u8, rng_for, with_alpha_u8

PILLOW_METHODS = ["nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"]


def make(mode: str, w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        arr = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        arr[: h // 3] = 65535  # flat extremes, where overshooting filters clip
        return arr
    channels = {"L": None, "LA": 1, "RGB": 3, "RGBA": 3}[mode]
    return with_alpha_u8(rng, h, w, channels) if mode in ("LA", "RGBA") else noise_u8(rng, h, w, channels)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    mode=st.sampled_from(["L", "LA", "RGB", "RGBA", "I;16"]),
    method=st.sampled_from(PILLOW_METHODS + ["area", "lanczos3"]),
    w=st.integers(1, 70),
    h=st.integers(1, 50),
    out_w=st.integers(1, 90),
    out_h=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_pillow_path_gives_the_kernels_bits(mode, method, w, h, out_w, out_h, seed):
    """Every size pair, both pass orders, rows narrower and wider than the SIMD loops' 64 bytes."""
    arr = make(mode, w, h, seed)
    img = Image.fromarray(arr)
    assert img.mode == mode
    size = (out_w, out_h)
    by_pillow = rescale.rescale(img, size=size, method=method, backend="pillow")
    by_kernels = rescale.rescale(img, size=size, method=method, backend="cpu")
    assert by_pillow.mode == by_kernels.mode == mode
    np.testing.assert_array_equal(np.asarray(by_pillow), np.asarray(by_kernels))
    from_numpy = rescale.rescale(arr, size=size, method=method, backend="pillow")
    assert from_numpy.shape == arr.shape[:0] + (out_h, out_w) + arr.shape[2:] and from_numpy.dtype == arr.dtype
    np.testing.assert_array_equal(from_numpy, np.asarray(by_kernels))


def test_numpy_results_are_writable_and_keep_their_layout():
    for arr in (make("L", 30, 20, 1), make("L", 30, 20, 1)[:, :, None], make("RGBA", 30, 20, 2)):
        out = rescale.rescale(arr, 0.5, backend="pillow")
        assert out.shape == (10, 15, *arr.shape[2:]) and out.flags.writeable
        out[0, 0] = 0


@pytest.mark.parametrize(
    "arr,kw,why",
    [
        (np.zeros((8, 8), np.float32), {}, "float"),
        (np.zeros((8, 8), np.uint8), {"edge": "symmetric"}, "edge"),
        (np.zeros((8, 8), np.uint8), {"antialias": False}, "no antialias when shrinking"),
        (np.zeros((8, 8), np.uint8), {"method": "lanczos2"}, "not Pillow's filter"),
        (np.zeros((8, 8), np.uint8), {"method": rescale.filters.bicubic(a=-0.75)}, "not Pillow's bicubic"),
        (np.zeros((8, 8), np.uint8), {"method": get_filter("nearest", rule="direct")}, "not Pillow's 8-bit rule"),
        (np.zeros((8, 8, 4), np.uint8), {"alpha": False}, "4 channels without alpha"),
        (np.zeros((8, 8, 3), np.uint16), {}, "16-bit colour"),
        (np.zeros((8, 8, 5), np.uint8), {}, "5 channels"),
    ],
)
def test_pillow_backend_refuses_what_pillow_would_do_differently(arr, kw, why):
    with pytest.raises(ValueError, match="backend 'pillow' gives our bits only"):
        rescale.rescale(arr, 0.5, backend="pillow", **kw)
    rescale.rescale(arr, 0.5, **kw)  # auto takes the kernels instead


def test_antialias_off_is_pillow_exact_when_enlarging():
    arr = make("RGB", 20, 10, 3)
    a = rescale.rescale(arr, 2.5, method="lanczos", antialias=False, backend="pillow")
    np.testing.assert_array_equal(a, rescale.rescale(arr, 2.5, method="lanczos", antialias=False, backend="cpu"))


def test_rule_is_ski_rental(monkeypatch):
    """Pillow until the Pillow work so far plus this call's reaches KERNEL_WORK, kernels after."""
    monkeypatch.setattr(fastpath, "_done", 0.0)
    monkeypatch.setattr(fastpath, "_prefer_kernels", False)
    monkeypatch.setattr(fastpath, "kernels_loaded", lambda: False)
    monkeypatch.setattr(fastpath, "KERNEL_WORK", 100.0)
    assert [fastpath.choose(w) for w in (40, 40, 10, 30, 1)] == ["pillow", "pillow", "pillow", "kernels", "kernels"]
    monkeypatch.setattr(fastpath, "_done", 0.0)
    assert fastpath.choose(100) == "kernels"  # one call as large as the loading cost: kernels at once
    monkeypatch.setattr(fastpath, "kernels_loaded", lambda: True)
    assert fastpath.choose(1) == "kernels"  # loaded anyway


def test_work_counts_taps_of_both_passes():
    bicubic = get_filter("bicubic")
    # 640x480 -> 320x240: taps 2 * ceil(2 * 2) + 1 = 9 each way; rows 480 then 240, 320 wide, 3 channels.
    assert fastpath.work(640, 480, 320, 240, 3, bicubic) == 3 * (480 * 320 * 9 + 240 * 320 * 9)
    assert fastpath.work(640, 480, 640, 240, 1, bicubic) == 240 * 640 * 9
    assert fastpath.work(640, 480, 640, 480, 3, bicubic) == 0


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


#: Makes ``import torch`` fail in a child process, as where torch is not installed.
BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "triton"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
"""


def test_small_jobs_load_neither_numba_nor_torch():
    out = run_python(
        """
import sys
import numpy as np
from PIL import Image
import rescale
assert set(sys.modules) & {"torch", "numba", "numpy"} == {"numpy"}, "import rescale imported too much"
rescale.rescale(Image.new("RGB", (64, 48)), 0.5)
rescale.rescale(np.zeros((48, 64, 4), np.uint8), 0.5, method="lanczos")
print(sorted(m for m in ("torch", "numba") if m in sys.modules))
"""
    )
    assert out.strip() == "[]"


def test_without_torch_every_filter_works_and_tensors_say_what_to_install(tmp_path):
    """torch blocked: numpy and PIL images with every filter give the same bits as here (where
    torch is installed), and what needs torch names the extra."""
    rng = rng_for("no torch")
    arr = noise_u8(rng, 23, 37, 3)
    np.save(tmp_path / "in.npy", arr)
    methods = rescale.filters.available()
    expected = {m: rescale.rescale(arr, 0.6, 1.3, method=m, backend="torch") for m in methods}
    np.savez(tmp_path / "expected.npz", **expected)
    out = run_python(
        BLOCK_TORCH
        + f"""
import numpy as np
from PIL import Image
import rescale
arr = np.load({str(tmp_path / "in.npy")!r})
expected = np.load({str(tmp_path / "expected.npz")!r})
for m in {methods!r}:
    for backend in ("auto", "cpu"):
        assert np.array_equal(rescale.rescale(arr, 0.6, 1.3, method=m, backend=backend), expected[m]), m
    assert np.array_equal(np.asarray(rescale.rescale(Image.fromarray(arr), 0.6, 1.3, method=m)), expected[m]), m
for call in (lambda: rescale.rescale(arr, 0.5, method="irn"), lambda: rescale.Rescale(0.5),
             lambda: rescale.rescale(arr, 0.5, backend="torch")):
    try:
        call()
    except ImportError as e:
        assert "pip install 'rescalekit[torch]'" in str(e), e
    else:
        raise AssertionError("no error without torch")
print("ok")
"""
    )
    assert out.strip() == "ok"


def test_small_cli_runs_load_neither_numba_nor_torch(tmp_path):
    """rescale --version, --help and a resize of a few files (with a process pool) stay light."""
    for i in range(3):
        Image.fromarray(noise_u8(rng_for("cli", i), 40, 60, 3)).save(tmp_path / f"{i}.png")
    resize = ["resize", str(tmp_path), "-o", str(tmp_path / "out"), "--scale", "0.5", "--workers", "2", "-q"]
    out = run_python(
        f"""
import contextlib, io, sys
from rescale.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["--version"]) == 0
    try:
        main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    assert main({resize!r}) == 0
print(sorted(m for m in ("torch", "numba", "numpy") if m in sys.modules))
"""
    )
    assert out.strip() == "[]"
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
