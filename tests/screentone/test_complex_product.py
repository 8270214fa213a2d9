"""numpy's complex product as this machine's numpy rounds it (the screen fit's waves, made in a loop
instead of read from memory): the form found gives np.outer's bits on other vectors than the probe's."""

import numba as nb
import numpy as np
import pytest

from rescale.screentone.complex_product import FUSED, PLAIN, numpy_form, product


@nb.njit
def loop_outer(a, b, form):
    out = np.empty((a.shape[0], b.shape[0]), np.complex128)
    for y in range(a.shape[0]):
        for x in range(b.shape[0]):
            re, im = product(a[y].real, a[y].imag, b[x].real, b[x].imag, form)
            out[y, x] = complex(re, im)
    return out


@pytest.mark.parametrize("n", [1, 2, 7, 31, 100, 1414])
def test_the_form_found_is_numpys_outer_product(n):
    form = numpy_form()
    if form is None:
        pytest.skip("numpy's complex product is neither form here (the fit reads numpy's waves)")
    rng = np.random.default_rng(n)
    rows = np.exp(2j * np.pi * (rng.random() - 0.5) * np.arange(37))
    cols = np.exp(2j * np.pi * (rng.random() - 0.5) * np.arange(n))
    want = np.outer(rows, cols)
    np.testing.assert_array_equal(loop_outer(rows, cols, form).view(np.int64), want.view(np.int64))


def test_the_two_forms_round_differently():
    # A product where fusing one multiplication into the sum changes the last bit: the probe can
    # tell the forms apart.
    rng = np.random.default_rng(0)
    a = np.exp(2j * np.pi * rng.random(50))
    b = np.exp(2j * np.pi * rng.random(50))
    assert not np.array_equal(loop_outer(a, b, FUSED), loop_outer(a, b, PLAIN))
