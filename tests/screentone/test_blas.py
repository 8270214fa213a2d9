"""numpy's BLAS on one thread for a block: the count set and restored, and the tile spectra's sums
(a float32 product of 512 rows, split by OpenBLAS's threads) the same bits on one thread."""

import threading

import numpy as np
import pytest

from rescale.screentone.blas import _openblas, blas_threads, one_blas_thread

openblas = pytest.mark.skipif(blas_threads() is None, reason="numpy's BLAS is not OpenBLAS")


@openblas
def test_one_thread_inside_nested_and_threaded_blocks_and_restored_after_the_last():
    before = blas_threads()
    entered, leave = threading.Event(), threading.Event()

    def other():
        with one_blas_thread():
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=other)
    with one_blas_thread():
        assert blas_threads() == 1
        worker.start()
        entered.wait(10)
        with one_blas_thread():
            assert blas_threads() == 1
        assert blas_threads() == 1
    assert blas_threads() == 1  # the other thread's block still runs
    leave.set()
    worker.join()
    assert blas_threads() == before


def test_the_count_is_restored_when_the_block_raises():
    before = blas_threads()
    with pytest.raises(RuntimeError), one_blas_thread():
        raise RuntimeError
    assert blas_threads() == before


@openblas
def test_tile_sums_are_the_same_bits_on_one_thread_as_on_two():
    # The shape of the tile spectra's product (tiles.tile_features): a batch of 512 half-plane
    # spectra (64 x 33 bins) by the 14 masks (0, 1 or 2), in float32.
    rng = np.random.default_rng(0)
    p = (rng.random((512, 64 * 33)) ** 4).astype(np.float32)
    sums = ((rng.random((64 * 33, 14)) > 0.5) * rng.integers(1, 3, (64 * 33, 14))).astype(np.float32)
    _, set_threads = _openblas()
    before = blas_threads()
    set_threads(2)
    try:
        two = p @ sums
    finally:
        set_threads(before)
    with one_blas_thread():
        one = p @ sums
    np.testing.assert_array_equal(one, two)
