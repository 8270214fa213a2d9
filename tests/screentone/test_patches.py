"""The synthesis's FFT correlations: fftconvolve's bits (a cell's copy is an argmin over them)."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from rescale.screentone.patches import _correlate


@pytest.mark.parametrize("seed", range(8))
def test_correlate_gives_fftconvolve_bits(seed):
    rng = np.random.default_rng(seed)
    kh, kw = [1, 9, 32, 48][seed % 4], [48, 1, 17, 32][seed % 4]
    reach = int(rng.integers(0, 33))
    k = (rng.random((kh, kw)) > 0.3).astype(float)
    a = (rng.random((kh + 2 * reach, kw + 2 * reach)) > 0.2).astype(float)
    b = rng.random(a.shape)
    got = _correlate(a, b, k)
    np.testing.assert_array_equal(got[0], fftconvolve(a, k[::-1, ::-1], mode="valid"))
    np.testing.assert_array_equal(got[1], fftconvolve(b, k[::-1, ::-1], mode="valid"))
