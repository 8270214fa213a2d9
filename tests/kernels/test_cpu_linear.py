"""The linear-light CPU loops (kernels/cpu_linear*.py): the encoder of every 8-bit path against
float64 arithmetic, and the SIMD loops against the portable ones."""

from __future__ import annotations

import numpy as np
import pytest

from rescale.filters import get_filter
from rescale.kernels import cpu_linear, cpu_linear_u8
from rescale.linear import codec_for
from rescale.tables import AxisTable, axis_table

from helpers import rng_for

PATHS = [
    pytest.param(True, id="simd", marks=pytest.mark.skipif(not cpu_linear_u8.AVAILABLE, reason="no AVX-512 VBMI")),
    pytest.param(False, id="portable"),
]


def srgb(v: np.ndarray, encode: bool) -> np.ndarray:
    """IEC 61966-2-1, float64, written out here."""
    if encode:
        return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def resize(x: np.ndarray, width: AxisTable, height: AxisTable, simd: bool, monkeypatch) -> np.ndarray:
    monkeypatch.setattr(cpu_linear_u8, "AVAILABLE", cpu_linear_u8.AVAILABLE and simd)
    return cpu_linear.resize_linear(x, width, height, codec_for(x.dtype, x.shape[-1]))


@pytest.mark.parametrize("simd", PATHS)
def test_every_pair_mean_is_rounded_exactly(simd, monkeypatch):
    """Every pair of 8-bit grey values averaged (box, 2 -> 1): the float32 mean of their float32
    linear values, exact whatever the order of the sums, must come out as the float64 rounding of
    its sRGB encoding: the SIMD encoder's polynomial, its flagged lanes and the threshold tables
    over the whole range of levels."""
    a, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    x = np.stack([a, b], -1).reshape(1, 256, 512, 1).astype(np.uint8)
    height = AxisTable(256, 256, np.arange(256, dtype=np.int32)[:, None], np.ones((256, 1)))
    got = resize(x, axis_table(512, 256, get_filter("box")), height, simd, monkeypatch)[0, :, :, 0]
    lin = srgb(np.arange(256) / 255, encode=False).astype(np.float32)
    mean = (np.float32(0.5) * lin[a] + np.float32(0.5) * lin[b]).astype(np.float64)
    want = np.floor(255 * srgb(mean, encode=True) + 0.5)
    assert np.array_equal(got, want), f"{int((got != want).sum())} pairs differ"


@pytest.mark.skipif(not cpu_linear_u8.AVAILABLE, reason="no AVX-512 VBMI")
@pytest.mark.parametrize("channels,alpha", [(1, False), (3, False), (2, True), (4, True)])
def test_simd_agrees_with_the_portable_loops(channels, alpha, monkeypatch):
    """Both round their own float32 sums exactly; the sums differ only in the order of the passes
    (horizontal first there, vertical first here), so a level differs rarely and by one."""
    x = rng_for("simd", channels).integers(0, 256, (2, 90, 130, channels), dtype=np.uint8)
    codec = codec_for(x.dtype, channels, alpha)
    for method in ("bicubic", "lanczos"):
        for out_w, out_h in ((64, 40), (200, 150)):
            tables = axis_table(130, out_w, get_filter(method)), axis_table(90, out_h, get_filter(method))
            fast = cpu_linear.resize_linear(x, *tables, codec)
            monkeypatch.setattr(cpu_linear_u8, "AVAILABLE", False)
            plain = cpu_linear.resize_linear(x, *tables, codec)
            monkeypatch.undo()
            diff = np.abs(fast.astype(int) - plain)
            assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (method, out_w, diff.max(), (diff > 0).mean())
