"""Screentone retargeting: the synthetic benchmark, its metrics, the screen analysis and the method.

Pages are small (192 px) so the whole file runs in a few seconds on one core.
"""

import numpy as np
import pytest
import torch

import rescale
from rescale.screentone.analysis import analyze
from rescale.screentone.metrics import dominant_peak, evaluate, line_iou, region_metrics
from rescale.screentone.retarget import Screentone, load, retarget
from rescale.screentone.synth import Screen, make_page, render_screen

PERIODIC = [
    Screen("dots", 6.0, 45.0, 0.5),
    Screen("lines", 5.0, 30.0, 0.6),
    Screen("dots", 9.0, 15.0, 0.7),
    Screen("lines", 8.0, 0.0, 0.4),
]


def _angle_err(a, b, sym):
    d = abs(a - b) % sym
    return min(d, sym - d)


# --- generator ---------------------------------------------------------------------------------


def test_page_is_deterministic_and_sized_by_the_size_rule():
    a_src, a_tgt = make_page(3, size=(160, 128), scale=(0.5, 1.5))
    b_src, b_tgt = make_page(3, size=(160, 128), scale=(0.5, 1.5))
    np.testing.assert_array_equal(a_src.image, b_src.image)
    np.testing.assert_array_equal(a_tgt.labels, b_tgt.labels)
    assert a_tgt.image.shape == (192, 80)  # rows = round(128 * 1.5), columns = round(160 * 0.5)
    assert set(np.unique(a_src.image)) <= {0.0, 1.0}
    assert not np.array_equal(make_page(4)[0].image, make_page(3)[0].image)


@pytest.mark.parametrize("scale", [(0.5, 0.5), (2.0, 1.5)])
def test_target_scales_geometry_but_not_screens(scale):
    src, tgt = make_page(0, scale=scale, screens=PERIODIC)
    for k, screen in enumerate(PERIODIC, 1):
        # Region areas scale with sx * sy ...
        ratio = (tgt.labels == k).sum() / (src.labels == k).sum()
        assert ratio == pytest.approx(scale[0] * scale[1], rel=0.15)
        # ... while the screen keeps its pitch and angle in pixels.
        period, angle, _ = dominant_peak(tgt.image, tgt.labels == k)
        assert period == pytest.approx(screen.period, rel=0.03)
        assert _angle_err(angle, screen.angle, 90 if screen.kind == "dots" else 180) < 2
        # A pixel-aligned screen takes tones in steps of 1 / period; others come close.
        assert tgt.intensity[k - 1] == pytest.approx(screen.tone, abs=1 / screen.period if screen.angle == 0 else 0.02)


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_are_zero_for_the_ground_truth_and_see_what_resampling_does():
    src, tgt = make_page(0, scale=(0.5, 0.5), screens=PERIODIC)
    perfect = evaluate(tgt.image, tgt)
    assert perfect["period"] == perfect["angle"] == perfect["moire"] == perfect["screen_dist"] == 0
    assert perfect["line_iou"] == 1
    # Nearest-neighbour halving keeps every other pixel: the screens' period halves exactly.
    nearest = src.image[1::2, 1::2]
    assert evaluate(nearest, tgt)["period"] == pytest.approx(50, abs=2)


def test_screen_distance_ignores_phase_but_not_pitch():
    src, tgt = make_page(0, screens=PERIODIC)
    shifted = tgt.image.copy()
    mask = tgt.labels == 1
    shifted[mask] = render_screen(PERIODIC[0], *tgt.image.shape, offset=(2, 3))[mask]
    other = tgt.image.copy()
    other[mask] = render_screen(Screen("dots", 4.0, 45.0, 0.5), *tgt.image.shape)[mask]
    assert region_metrics(shifted, tgt, 1)["screen_dist"] < 0.1
    assert region_metrics(other, tgt, 1)["screen_dist"] > 0.4


def test_moire_sees_a_slow_tone_wave_and_line_iou_sees_lost_lines():
    _, tgt = make_page(0, screens=PERIODIC)
    yy = np.arange(tgt.image.shape[0])[:, None]
    wavy = tgt.image + 0.2 * np.sin(2 * np.pi * yy / 40)
    assert region_metrics(wavy, tgt, 1)["moire"] > 20  # 0.2 * 255 / sqrt(2) = 36 RMS, blurred a bit
    assert region_metrics(tgt.image, tgt, 1)["moire"] == 0
    assert line_iou(np.ones_like(tgt.image), tgt) == 0


# --- analysis ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_analysis_finds_each_region_with_its_screen(seed):
    src, _ = make_page(seed)
    labels, params = analyze(src.image)
    assert len(params) == len(src.screens)
    for k, screen in enumerate(src.screens, 1):
        truth = src.labels == k
        found = np.bincount(labels[truth], minlength=len(params) + 1)[1:].argmax() + 1
        iou = (truth & (labels == found)).sum() / (truth | (labels == found)).sum()
        assert iou > 0.75  # the detected region also holds the outline, which the truth does not
        p = params[found - 1]
        assert p.kind == screen.kind
        if screen.kind != "noise":
            assert p.period == pytest.approx(screen.period, rel=0.10)
            assert _angle_err(p.angle, screen.angle, 90 if screen.kind == "dots" else 180) < 5


def test_analysis_finds_nothing_on_line_art_alone():
    src, _ = make_page(1, screens=[Screen("dots", 6.0, 0.0, 0.999)] * 4)  # screens with no ink
    labels, params = analyze(src.image)
    assert params == [] and not labels.any()


# --- the method ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.5, 0.67, 1.5, 2.0])
def test_retarget_keeps_pitch_and_tone_without_moire(scale):
    src, tgt = make_page(0, scale=(scale, scale), screens=PERIODIC)
    out = retarget(src.image, tgt.image.shape[::-1])
    base = np.clip(rescale.rescale(src.image.astype(np.float32), scale, method="bicubic"), 0, 1).astype(np.float64)
    for k in range(1, len(PERIODIC) + 1):
        ours, theirs = region_metrics(out, tgt, k), region_metrics(base, tgt, k)
        assert ours["period"] < 5  # percent
        assert ours["intensity"] < 3  # grey levels
        assert ours["moire"] < max(2.0, 0.5 * theirs["moire"])  # grey levels RMS
    # Line art stays where it belongs, as well as the filters keep it.
    assert line_iou(out, tgt) > line_iou(base, tgt) - 0.05


def test_screentone_method_runs_both_directions_asymmetric():
    src, _ = make_page(1, size=(96, 96), n_regions=1, screens=[Screen("dots", 5.0, 45.0, 0.5)])
    m = load()
    assert isinstance(m, Screentone)
    x = torch.from_numpy(src.image).float()[None, None]
    assert m.down(x, (48, 64)).shape == (1, 1, 64, 48)
    assert m.up(x, (144, 120)).shape == (1, 1, 120, 144)
    with pytest.raises(ValueError):
        retarget(np.zeros((2, 3, 4, 5)), (4, 4))


def test_rescale_dispatches_to_screentone_when_registered():
    if not rescale.methods.is_method("screentone"):
        pytest.skip('"screentone" is not registered in rescale/methods.py yet')
    src, tgt = make_page(0, scale=(0.5, 0.5), screens=PERIODIC)
    out = rescale.rescale(src.image, 0.5, method="screentone")
    np.testing.assert_allclose(out, retarget(src.image, (96, 96)))
