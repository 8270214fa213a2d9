"""The numba CPU kernel (``rescale.kernels.cpu``) against the torch reference it must reproduce.

uint8 and uint16 must be identical to the reference (which is itself checked against Pillow in
test_pillow_exact.py), float32 within 1e-5, float64 within 1e-12, float16 / bfloat16 within one
unit in the last place (both round the same float32 sums, which may differ in their last bit).
Every filter, edge mode and dtype runs on both memory formats and both axes, for sizes from 1 to
large tap counts, through the single-thread path and the threaded one, and in a forked child.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

pytest.importorskip("numba")

import rescale
from rescale.filters import available, bicubic, get_filter
from rescale.kernels import cpu
from rescale.kernels.reference import resample_axis as reference
from rescale.tables import EDGES, axis_table

from helpers import rng_for

FILTERS = [get_filter(name) for name in available()] + [bicubic(a=-0.75)]
#: (in, out) sizes of the resampled axis: single samples, odd sizes, up, down, x0.1 (many taps).
SIZES = [(1, 1), (1, 4), (4, 1), (2, 3), (7, 3), (5, 12), (37, 53), (53, 37), (100, 10), (64, 160)]
#: (rtol, atol) for float results; float16 / bfloat16: one unit in the last place.
TOLERANCE = {
    torch.float32: (1e-5, 1e-5),
    torch.float64: (1e-12, 1e-12),
    torch.float16: (2.0**-10, 2.0**-10),
    torch.bfloat16: (2.0**-7, 2.0**-7),
}
LAYOUTS = ["nchw", "channels_last", "strided"]


def random_tensor(dtype: torch.dtype, shape, *key) -> torch.Tensor:
    """Full-range integers (with runs of the extremes, to exercise clamping) or floats in [-1, 1]."""
    rng = rng_for(str(dtype), tuple(shape), *key)
    if dtype in (torch.uint8, torch.uint16):
        top = 255 if dtype == torch.uint8 else 65535
        x = rng.integers(0, top + 1, shape)
        k = shape[-1] // 3
        x[..., :k] = 0
        x[..., shape[-1] - k :] = top
        return torch.from_numpy(x).to(dtype)
    return torch.from_numpy(rng.uniform(-1, 1, shape)).to(dtype)


def in_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "strided":  # a view that is neither format: every other column of a wider tensor
        wide = torch.zeros(*x.shape[:3], 2 * x.shape[3], dtype=x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    return x


def assert_matches_reference(x: torch.Tensor, table, dim: int, what: str) -> None:
    got = cpu.resample_axis(x, table, dim)
    want = reference(x, table, dim)
    assert got.shape == want.shape and got.dtype == x.dtype, what
    if x.dtype in (torch.uint8, torch.uint16):
        diff = (got.to(torch.int64) - want.to(torch.int64)).abs()
        assert int(diff.max()) == 0, f"{what}: {int((diff > 0).sum())} samples differ, by up to {int(diff.max())}"
    else:
        rtol, atol = TOLERANCE[x.dtype]
        torch.testing.assert_close(got.double(), want.double(), rtol=rtol, atol=atol, msg=what)


def check_tables(x: torch.Tensor, dim: int, tables) -> None:
    """``x`` through each ``(what, table)``; float inputs also through the transposed table,
    which is what the backward pass runs."""
    for what, table in tables:
        assert_matches_reference(x, table, dim, what)
        if x.dtype.is_floating_point:
            shape = list(x.shape)
            shape[dim] = table.out_size
            y = random_tensor(x.dtype, shape, what).contiguous(memory_format=_format_of(x))
            assert_matches_reference(y, table.transposed, dim, "transposed " + what)


def _format_of(x: torch.Tensor) -> torch.memory_format:
    cl = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if cl else torch.contiguous_format


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.uint16, torch.float32, torch.float64], ids=str)
def test_every_filter_and_edge_matches_reference(dtype, dim):
    for n_in, n_out in [(7, 3), (5, 12), (100, 10)]:
        shape = [2, 1 if dtype == torch.uint16 else 3, 4, 4]
        shape[dim] = n_in
        x = in_layout(random_tensor(dtype, shape, dim, n_in), "channels_last" if dim == 3 else "nchw")
        tables = [
            (f"{f.name}{f.params} {edge} aa={aa} {n_in}->{n_out}", axis_table(n_in, n_out, f, aa, edge))
            for f in FILTERS
            for edge in EDGES
            for aa in (True, False)
        ]
        check_tables(x, dim, tables)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize(
    "dtype", [torch.uint8, torch.uint16, torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str
)
def test_every_size_dtype_and_layout_matches_reference(dtype, dim, layout):
    for n_in, n_out in SIZES:
        shape = [2, 1 if dtype == torch.uint16 else 3, 5, 5]
        shape[dim] = n_in
        x = in_layout(random_tensor(dtype, shape, dim, n_in), layout)
        tables = [
            (f"{name} {edge} {n_in}->{n_out}", axis_table(n_in, n_out, get_filter(name), True, edge))
            for name in ("bilinear", "lanczos")
            for edge in ("renormalize", "symmetric")
        ]
        check_tables(x, dim, tables)


@pytest.mark.parametrize("threaded", [False, True], ids=["one-thread", "threaded"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32], ids=str)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_row_blocks_and_threads(channels, dtype, layout, threaded, monkeypatch):
    """Row counts that are not multiples of the horizontal pass's blocks (8-row groups, 64-row
    blocks) and wide rows that span several vertical chunks, with and without the thread pool."""
    if threaded:
        monkeypatch.setattr(cpu, "_MIN_PARALLEL_WORK", 0)
        monkeypatch.setattr(torch, "get_num_threads", lambda: 3)  # more helpers than work items
    x = in_layout(random_tensor(dtype, [2, channels, 70, 1100], channels, layout), layout)
    for dim, n_out in [(3, 457), (3, 2201), (2, 9), (2, 141)]:
        table = axis_table(x.shape[dim], n_out, get_filter("lanczos"))
        assert_matches_reference(x, table, dim, f"dim {dim} -> {n_out}")


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_output_keeps_memory_format_and_input(layout):
    x = in_layout(random_tensor(torch.uint8, [2, 3, 9, 11], 7), layout)
    before = x.clone()
    for dim in (2, 3):
        y = cpu.resample_axis(x, axis_table(x.shape[dim], 5, get_filter("bicubic")), dim)
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        assert y.is_contiguous(memory_format=fmt)
    assert torch.equal(x, before)


def test_bad_input_is_refused_clearly():
    table = axis_table(6, 3, get_filter("bilinear"))
    x = torch.zeros(1, 1, 6, 6)
    with pytest.raises(TypeError, match="dtype"):
        cpu.resample_axis(x.to(torch.int32), table, 3)
    with pytest.raises(ValueError, match="N, C, H, W"):
        cpu.resample_axis(x[0], table, 2)
    with pytest.raises(ValueError, match="dim"):
        cpu.resample_axis(x, table, 1)
    with pytest.raises(ValueError, match="samples"):
        cpu.resample_axis(torch.zeros(1, 1, 6, 7), table, 3)
    with pytest.raises(TypeError, match="Tensor"):
        cpu.resample_axis(np.zeros((1, 1, 6, 6)), table, 3)


@pytest.mark.parametrize(
    "sx,sy,method,edge",
    [(0.5, 0.5, "bicubic", "renormalize"), (1.7, 0.37, "lanczos", "symmetric"), (0.3, 2.2, "bilinear", "clamp")],
)
def test_gradcheck_through_rescale(sx, sy, method, edge):
    x = torch.from_numpy(rng_for(sx, sy).uniform(-1, 1, (1, 2, 7, 9))).requires_grad_()
    # Two channels of data, not grey + alpha (a float image with 2 channels must say: conventions.md).
    f = lambda t: rescale.rescale(t, sx, sy, method=method, edge=edge, alpha=False, backend="cpu")  # noqa: E731
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_backend_cpu_matches_torch_backend_end_to_end():
    img = random_tensor(torch.uint8, [1, 4, 33, 47], "e2e")[0].permute(1, 2, 0).numpy()  # HxWx4 with alpha
    for sx, sy in [(0.37, 0.5), (1.7, 2.0)]:
        got = rescale.rescale(img, sx, sy, method="lanczos", backend="cpu")
        want = rescale.rescale(img, sx, sy, method="lanczos", backend="torch")
        np.testing.assert_array_equal(got, want)


def test_concurrent_calls_from_python_threads(monkeypatch):
    """Callers on several threads share the helper pool; each gets its own, exact result."""
    monkeypatch.setattr(cpu, "_MIN_PARALLEL_WORK", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    inputs = [
        random_tensor(torch.uint8, [1, 3, 40 + i, 200], i).contiguous(memory_format=torch.channels_last)
        for i in range(6)
    ]
    table = axis_table(200, 77, get_filter("lanczos"))
    with ThreadPoolExecutor(3) as callers:
        results = list(callers.map(lambda x: cpu.resample_axis(x, table, 3), inputs))
    for x, got in zip(inputs, results):
        assert torch.equal(got, reference(x, table, 3))


def _resample_in_child(x, table, queue) -> None:
    torch.set_num_threads(1)  # as DataLoader workers do (torch's OpenMP is not fork-safe)
    queue.put(cpu.resample_axis(x, table, 3).numpy().tobytes())


def test_works_in_a_forked_child_after_threaded_use(monkeypatch):
    """DataLoader workers are forked: the thread pool must be rebuilt there, not inherited dead."""
    monkeypatch.setattr(cpu, "_MIN_PARALLEL_WORK", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)  # in the child too
    x = random_tensor(torch.uint8, [1, 3, 70, 300], "fork").contiguous(memory_format=torch.channels_last)
    table = axis_table(300, 123, get_filter("bicubic"))
    expected = cpu.resample_axis(x, table, 3).numpy().tobytes()  # starts the parent's pool
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_resample_in_child, args=(x, table, queue))
    child.start()
    try:
        got = queue.get(timeout=60)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert got == expected and child.exitcode == 0


def test_slow_first_use_is_announced(caplog, monkeypatch):
    """A loop's first call in a process (numba loading or compiling it) logs what is happening if
    it takes over a second; later calls, and quick first ones, say nothing."""
    import time

    monkeypatch.setattr(cpu, "_seen", set())
    args = (np.zeros(3, np.uint8),)
    with caplog.at_level("WARNING", logger="rescale"):
        notice = cpu._first_use(cpu.resample_array, args)
        notice.after = 0.05
        with notice:
            time.sleep(0.5)
        assert cpu._first_use(cpu.resample_array, args) is None  # once per loop and types
        with cpu._first_use(cpu.resize_array, args):
            pass
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "loading the CPU kernels (resample_array for uint8 images" in messages[0]
    assert "kernels ready in" in messages[1]
