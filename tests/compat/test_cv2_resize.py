"""``rescale.compat.cv2_resize`` against OpenCV itself, bit for bit on uint8 images.

x86 wheels of OpenCV hand INTER_CUBIC (1, 3 or 4 channels) to Intel IPP while IPP is enabled; OpenCV's
own code runs with ``cv2.ipp.setUseIPP(False)`` and on builds without IPP, and that is what
``cv2_resize`` reproduces exactly; ``ipp=True`` imitates IPP, checked here to the measured share.
INTER_LINEAR and INTER_AREA on uint8 never go to IPP, so they are compared with IPP in both states.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rescale.compat import INTER_AREA, INTER_CUBIC, INTER_LINEAR, cv2_resize

from helpers import noise_u8, rng_for

cv2 = pytest.importorskip("cv2")

DATA = Path(os.environ.get("RESCALE_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
BSD100 = DATA / "BSD100"
MODES = {"linear": INTER_LINEAR, "cubic": INTER_CUBIC, "area": INTER_AREA}

# (h, w): tiny, odd, even, one pixel wide or high
SHAPES = [(1, 1), (1, 7), (6, 1), (2, 3), (5, 4), (37, 53), (48, 64)]


def _dsizes(w: int, h: int) -> list[tuple[int, int]]:
    """Output (width, height): integer and non-integer factors, shrink, enlarge, mixed, 1x1."""
    cand = [
        (w // 2, h // 2),  # x1/2 (integer when even)
        (w // 3, h // 3),
        (w // 4, h // 4),
        (round(w * 0.37), round(h * 0.37)),
        (round(w * 0.7), round(h * 0.45)),
        (2 * w, 2 * h),
        (3 * w, 3 * h),
        (round(w * 1.7), round(h * 1.3)),
        (w // 2, 2 * h),  # shrink one axis, enlarge the other
        (2 * w + 1, h),  # one axis only
        (1, 1),
    ]
    return sorted({(dw, dh) for dw, dh in cand if dw >= 1 and dh >= 1 and (dw, dh) != (w, h)})


#: (fx, fy): the size is round(w * fx) and the geometry 1/fx, with partial area blocks at odd sizes
FACTORS = [(0.5, 0.5), (1 / 3, 1 / 3), (0.25, 0.25), (0.37, 0.37), (2.0, 2.0), (0.5, 2.0), (1.5, 0.7)]


@pytest.fixture(params=[False, True], ids=["ipp-off", "ipp-on"])
def ipp_state(request):
    """Run the test with cv2's IPP switched off, then on (restored afterwards)."""
    was = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(request.param)
    yield request.param
    cv2.ipp.setUseIPP(was)


@pytest.fixture
def opencv_own_code():
    """cv2 with IPP off: OpenCV's own INTER_CUBIC."""
    was = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    yield
    cv2.ipp.setUseIPP(was)


def _same_as_cv2(x: np.ndarray, mode: str, **size) -> None:
    try:
        want = cv2.resize(x, size.get("dsize"), fx=size.get("fx", 0), fy=size.get("fy", 0), interpolation=MODES[mode])
    except cv2.error:  # e.g. INTER_AREA shrinking 5 channels by a non-integer factor
        with pytest.raises(ValueError):
            cv2_resize(x, interpolation=mode, **size)
        return
    got = cv2_resize(x, interpolation=mode, **size)
    assert got.shape[:2] == want.shape[:2], (x.shape, mode, size)
    np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{x.shape} {mode} {size}")


def _grid(mode: str, channels: int | None) -> None:
    for h, w in SHAPES:
        x = noise_u8(rng_for(mode, channels, h, w), h, w, channels)
        for dw, dh in _dsizes(w, h):
            _same_as_cv2(x, mode, dsize=(dw, dh))
        for fx, fy in FACTORS:
            if round(w * fx) >= 1 and round(h * fy) >= 1:
                _same_as_cv2(x, mode, fx=fx, fy=fy)


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("mode", ["linear", "area"])
def test_linear_and_area_grid(mode, channels, ipp_state):
    _grid(mode, channels)


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 5])
def test_cubic_grid(channels, opencv_own_code):
    _grid("cubic", channels)


@settings(max_examples=150, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    mode=st.sampled_from(sorted(MODES)),
    by_size=st.booleans(),
    dw=st.integers(1, 90),
    dh=st.integers(1, 90),
    fx=st.floats(0.05, 3.0),
    fy=st.floats(0.05, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_images_and_sizes(h, w, channels, mode, by_size, dw, dh, fx, fy, seed):
    was = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        x = noise_u8(np.random.default_rng(seed), h, w, channels)
        if by_size:
            _same_as_cv2(x, mode, dsize=(dw, dh))
        elif round(w * fx) >= 1 and round(h * fy) >= 1:
            _same_as_cv2(x, mode, fx=fx, fy=fy)
    finally:
        cv2.ipp.setUseIPP(was)


@pytest.mark.skipif(not BSD100.is_dir(), reason=f"BSD100 not found at {BSD100}")
@pytest.mark.parametrize("mode", sorted(MODES))
def test_real_images(mode, opencv_own_code):
    from PIL import Image

    for path in sorted(BSD100.glob("*.png"))[:2]:
        img = np.asarray(Image.open(path).convert("RGB"))
        h, w = img.shape[:2]
        for size in [dict(fx=0.5, fy=0.5), dict(fx=1 / 3, fy=1 / 3), dict(dsize=(round(w * 0.37), h // 3))]:
            _same_as_cv2(img, mode, **size)
            _same_as_cv2(img[..., 1], mode, **size)
        _same_as_cv2(img[:100, :120], mode, fx=2.0, fy=2.0)


def test_ipp_imitation():
    """With IPP on, cv2's INTER_CUBIC on 1, 3, 4 channels is its floating-point result rounded once:
    ``ipp=True`` equals it but for near-ties (within ~1e-5 of a rounding boundary)."""
    was = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(True)
    try:
        if not cv2.ipp.useIPP():
            pytest.skip("this OpenCV build has no IPP")
        total = differ = 0
        for channels in (None, 1, 3, 4):
            for h, w, size in [(37, 53, (71, 29)), (48, 64, (17, 90)), (40, 31, (120, 93))]:
                x = noise_u8(rng_for("ipp", channels, h, w), h, w, channels)
                want = cv2.resize(x, size, interpolation=cv2.INTER_CUBIC)
                got = cv2_resize(x, size, interpolation=INTER_CUBIC, ipp=True).reshape(want.shape)
                assert np.abs(got.astype(int) - want).max() <= 1
                total, differ = total + want.size, differ + int((got != want).sum())
        assert differ / total < 1e-4, f"{differ} of {total} values differ from IPP"
        # two channels never go to IPP
        x = noise_u8(rng_for("ipp2"), 37, 53, 2)
        np.testing.assert_array_equal(cv2_resize(x, (71, 29), interpolation="cubic", ipp=True),
                                      cv2.resize(x, (71, 29), interpolation=cv2.INTER_CUBIC))  # fmt: skip
    finally:
        cv2.ipp.setUseIPP(was)


def test_area_with_more_than_four_channels():
    x = noise_u8(rng_for("cn5"), 20, 20, 5)
    with pytest.raises(cv2.error):
        cv2.resize(x, (7, 7), interpolation=cv2.INTER_AREA)
    with pytest.raises(ValueError, match="4 channels"):
        cv2_resize(x, (7, 7), interpolation="area")
    np.testing.assert_array_equal(cv2_resize(x, (10, 10), interpolation="area"),
                                  cv2.resize(x, (10, 10), interpolation=cv2.INTER_AREA))  # fmt: skip


def test_names_codes_and_layout():
    x = noise_u8(rng_for("names"), 9, 11, 1)
    a = cv2_resize(x, (5, 4), interpolation=cv2.INTER_AREA)
    assert a.shape == (4, 5, 1)  # the channel axis is kept (cv2 drops it)
    np.testing.assert_array_equal(a, cv2_resize(x, (5, 4), interpolation="AREA"))
    np.testing.assert_array_equal(cv2_resize(x[..., 0], (5, 4)), cv2.resize(x[..., 0], (5, 4)))  # default: linear
    np.testing.assert_array_equal(cv2_resize(x, (11, 9)), x)  # same size: a copy
    np.testing.assert_array_equal(cv2_resize(x, (0, 0), fx=0.5, fy=0.5), cv2_resize(x, None, 0.5, 0.5))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(dsize=(4, 4), interpolation=4), ValueError, "interpolation"),
        (dict(dsize=(4, 4), interpolation="lanczos"), ValueError, "interpolation"),
        (dict(dsize=(4, 4), fx=0.5, fy=0.5), ValueError, "not both"),
        (dict(fx=0.5), ValueError, "fx and fy"),
        (dict(fx=0.01, fy=0.01), ValueError, "empty"),
        (dict(dsize=(0, 4)), ValueError, "positive"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        cv2_resize(np.zeros((8, 8), np.uint8), **kwargs)


def test_bad_images():
    with pytest.raises(TypeError, match="uint8"):
        cv2_resize(np.zeros((8, 8), np.float32), (4, 4))
    with pytest.raises(ValueError, match="HxW"):
        cv2_resize(np.zeros((2, 8, 8, 3), np.uint8), (4, 4))
