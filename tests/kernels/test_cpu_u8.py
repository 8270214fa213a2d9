"""The uint8 SIMD kernels (``rescale.kernels.cpu_u8``), reached through ``rescale.kernels.cpu``.

Both horizontal paths run: the generic one (transposed 16-row groups) everywhere, the VNNI one
where the CPU has it (``cpu_u8.VNNI``; skipped elsewhere). Each is checked against the torch
reference (bit for bit) on the shapes where the loops change behaviour: rows of 64 and 128 bytes
(the narrowest each path takes), row counts around the 4-, 16- and 64-row blocks, 1 to 4
channels, shrinking and enlarging, mirrored edges; the two-pass ``resize`` (the intermediate
image in a sliding window) in both pass orders, one and several threads; and against Pillow.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("numba")

import rescale
from rescale.filters import get_filter
from rescale.kernels import cpu, cpu_u8
from rescale.kernels.reference import resample_axis as reference
from rescale.tables import axis_table

from helpers import noise_u8, rng_for, with_alpha_u8

PATHS = [
    pytest.param(False, id="generic"),
    pytest.param(True, id="vnni", marks=pytest.mark.skipif(not cpu_u8.VNNI, reason="CPU without AVX-512 VBMI + VNNI")),
]


@pytest.fixture(params=PATHS)
def vnni(request, monkeypatch) -> bool:
    """Run the test with the VNNI horizontal path on or off (``cpu.py`` reads the flag per call)."""
    monkeypatch.setattr(cpu_u8, "VNNI", request.param)
    return request.param


def random_u8(shape, *key, channels_last: bool = True) -> torch.Tensor:
    x = torch.from_numpy(rng_for(tuple(shape), *key).integers(0, 256, shape, dtype=np.uint8))
    x[..., : shape[-1] // 4] = 0  # flat extremes: clamping after overshooting filters
    x[..., -(shape[-1] // 4) :] = 255
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def assert_equal(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    assert got.shape == want.shape, what
    diff = (got.int() - want.int()).abs()
    assert int(diff.max()) == 0, f"{what}: {int((diff > 0).sum())} samples differ, by up to {int(diff.max())}"


def uses_vnni(table, channels: int, width: int) -> bool:
    return cpu._u8_horizontal_tables(table, channels, width * channels)[0].ndim == 1


# (width in, width out): row bytes at the paths' limits (64: any SIMD path, 128: VNNI's window)
# for 1 channel, and wider rows; shrinking by 0.25-0.5 and enlarging.
WIDTHS = [(64, 16), (65, 64), (127, 40), (128, 47), (129, 300), (300, 111), (400, 100), (250, 425)]


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_horizontal_matches_reference(vnni, channels):
    used = set()
    for w, w2 in WIDTHS:
        for rows, method, edge in [
            (1, "bicubic", "renormalize"),
            (5, "lanczos", "symmetric"),
            (67, "bilinear", "clamp"),
            (16, "box", "renormalize"),
        ]:
            x = random_u8([1, channels, rows, w], w, method)
            table = axis_table(w, w2, get_filter(method), True, edge)
            what = f"{channels} ch, {rows} rows, {w} -> {w2} {method} {edge}"
            assert_equal(cpu.resample_axis(x, table, 3), reference(x, table, 3), what)
            used.add(uses_vnni(table, channels, w))
    assert (True in used) == vnni  # the VNNI path did run (or, switched off, did not)


def test_vnni_rows_around_its_blocks():
    """Row counts around the VNNI path's 4-row steps and the 64-row blocks, several threads."""
    if not cpu_u8.VNNI:
        pytest.skip("CPU without AVX-512 VBMI + VNNI")
    table = axis_table(200, 77, get_filter("lanczos"))
    assert uses_vnni(table, 3, 200)
    for rows in [1, 2, 3, 4, 5, 63, 64, 65, 131]:
        x = random_u8([1, 3, rows, 200], rows)
        assert_equal(cpu.resample_axis(x, table, 3), reference(x, table, 3), f"{rows} rows")


@pytest.mark.parametrize("q", [64, 65, 200])
def test_vertical_matches_reference(q):
    for n_in, n_out, method, edge in [
        (70, 17, "bicubic", "renormalize"),
        (9, 40, "lanczos", "symmetric"),
        (130, 129, "bilinear", "clamp"),
    ]:
        x = random_u8([2, 1, n_in, q], q, n_in, channels_last=False)
        table = axis_table(n_in, n_out, get_filter(method), True, edge)
        assert_equal(
            cpu.resample_axis(x, table, 2), reference(x, table, 2), f"{q} wide, {n_in} -> {n_out} {method} {edge}"
        )


# (n, c, h, w, out_h, out_w, method, edge, channels_last): single images and batches, planar and
# interleaved, tall shrinks (the window slides many times), enlargements, mirrored edges.
RESIZE_CASES = [
    (1, 3, 300, 200, 75, 50, "bicubic", "renormalize", True),
    (1, 3, 701, 150, 97, 131, "lanczos", "symmetric", True),
    (3, 3, 130, 100, 33, 70, "lanczos", "symmetric", True),
    (2, 3, 65, 90, 171, 64, "bicubic", "renormalize", False),
    (1, 1, 500, 300, 61, 129, "bilinear", "clamp", False),
    (4, 4, 67, 64, 19, 33, "hamming", "renormalize", True),
    (2, 2, 40, 70, 300, 35, "box", "renormalize", True),
    (1, 3, 2000, 60, 20, 30, "lanczos", "symmetric", True),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("vertical_first", [False, True])
def test_resize_matches_two_reference_passes(vnni, vertical_first, threads, monkeypatch):
    monkeypatch.setattr(cpu, "_MIN_PARALLEL_WORK", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    for n, c, h, w, oh, ow, method, edge, channels_last in RESIZE_CASES:
        x = random_u8([n, c, h, w], h, w, method, channels_last=channels_last)
        f = get_filter(method)
        width, height = axis_table(w, ow, f, True, edge), axis_table(h, oh, f, True, edge)
        if vertical_first:
            want = reference(reference(x, height, 2), width, 3)
        else:
            want = reference(reference(x, width, 3), height, 2)
        got = cpu.resize(x, width, height, vertical_first)
        assert got.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        assert_equal(got, want, f"{n}x{c}x{h}x{w} -> {oh}x{ow} {method} {edge}")


def test_row_bounds():
    """The sliding window's bounds: the lowest input row read from each output row on, the
    highest read up to it (a mirrored edge folds taps back, so both are taken over all taps)."""
    table = axis_table(37, 11, get_filter("lanczos"), True, "symmetric")
    lows, highs = table.index.min(axis=1), table.index.max(axis=1)
    first, last = cpu.row_bounds(table)
    for r in range(table.out_size):
        assert first[r] == lows[r:].min() and last[r] == highs[: r + 1].max()


def test_vnni_table_decodes_to_the_expanded_table():
    """The VNNI layout, read back: window start + offset is each tap's index, the three signed
    digits give back its weight (checked without running the VNNI code)."""
    for channels, w, w2, method in [(3, 300, 111, "bicubic"), (1, 400, 133, "lanczos"), (4, 64, 109, "bilinear")]:
        table = axis_table(w, w2, get_filter(method))
        index, weight, _ = cpu._expanded_table(table, channels, np.uint8)
        packed, windows = cpu_u8.vnni_table(index, weight, w * channels)
        q2, k = index.shape
        quads = -(-k // 4)
        planes = packed.view(np.int8).reshape(len(windows), quads, 4, cpu_u8.VNNI_OUTPUTS, 4).astype(np.int64)
        for b, start in enumerate(windows):
            x0 = min(b * cpu_u8.VNNI_OUTPUTS, q2 - cpu_u8.VNNI_OUTPUTS)
            for i in range(cpu_u8.VNNI_OUTPUTS):
                taps = planes[b, :, :, i, :].transpose(0, 2, 1).reshape(4 * quads, 4)[:k]  # [tap, plane]
                np.testing.assert_array_equal(start + (taps[:, 0] & 255), index[x0 + i])
                np.testing.assert_array_equal(taps[:, 1] + 256 * taps[:, 2] + 65536 * taps[:, 3], weight[x0 + i])


def test_vnni_table_refuses_what_it_cannot_hold():
    table = axis_table(2000, 200, get_filter("bicubic"))  # x0.1: 16 outputs' taps span ~190 bytes
    assert cpu_u8.vnni_table(*cpu._expanded_table(table, 1, np.uint8)[:2], 2000) is None
    narrow = axis_table(100, 50, get_filter("bilinear"))  # rows shorter than the 128-byte window
    assert cpu_u8.vnni_table(*cpu._expanded_table(narrow, 1, np.uint8)[:2], 100) is None


PILLOW = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pillow_exact(vnni, mode):
    """Images wide enough for the SIMD paths, through rescale(), equal Pillow's resize."""
    rng = rng_for("simd", mode)
    arr = (
        noise_u8(rng, 157, 203, {"L": None, "RGB": 3}[mode])
        if mode in ("L", "RGB")
        else with_alpha_u8(rng, 157, 203, 1 if mode == "LA" else 3)
    )
    img = Image.fromarray(arr)
    for method, pil_filter in PILLOW.items():
        for sx, sy in [(0.25, 0.25), (0.37, 0.37), (0.5, 0.8), (0.8, 0.3), (1.7, 1.7), (2, 0.75)]:
            size = rescale.output_size(img.width, img.height, sx, sy)
            expected = np.asarray(img.resize(size, pil_filter))
            got = rescale.rescale(arr, size=size, method=method, backend="cpu")
            np.testing.assert_array_equal(got, expected, err_msg=f"{mode} {method} {sx},{sy}")


def test_pillow_exact_batches(vnni):
    """Batches (channels-last and planar) equal Pillow image by image."""
    images = [noise_u8(rng_for("batch", i), 120, 150, 3) for i in range(3)]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # channels-last [3, 3, 120, 150]
    for x in (batch, batch.contiguous()):
        for method, pil_filter in PILLOW.items():
            got = rescale.rescale(x, size=(64, 50), method=method, backend="cpu")
            for i, arr in enumerate(images):
                expected = np.asarray(Image.fromarray(arr).resize((64, 50), pil_filter))
                np.testing.assert_array_equal(got[i].permute(1, 2, 0).numpy(), expected, err_msg=f"{method} image {i}")
