"""MULLER, the multilayer Laplacian resizer (Tu, Milanfar, Talebi, ICCV 2023), on this package's kernels.

A learnable resizer placed in front of a vision model and trained with it on the task loss::

    y = R(x) + sum_{k=1..K} tanh(alpha_k * R(x_k - x_{k-1}) + beta_k),   x_0 = x,  x_k = G * x_{k-1}

``R`` is a base resizer (:func:`rescale.resample.resample`: bilinear without antialias by default,
as in the released code), ``G`` a 5-tap Gaussian blur (sigma 1) at the input resolution. ``alpha_k``
and ``beta_k`` are scalars shared by all channels and pixels (``2K`` parameters, as in the released
code), initialised to 0, so an untrained MULLER is exactly its base resizer. Inputs are floats in
``[0, 1]`` (the ``beta`` offsets and the ``tanh`` clipping are in those units).

The blur runs on the resampling kernels too (numba on CPU, Triton on CUDA, differentiable through
:func:`rescale.resample.resample_axis`): a same-size :class:`~rescale.tables.AxisTable` whose taps
past the border keep weight 0 without renormalising, which is the zero padding ('SAME') of the
released TensorFlow code (needed to reuse its trained values, e.g. :data:`PAPER_RESNET50`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..filters import Filter, get_filter
from ..methods import Method
from ..resample import resample, resample_axis
from ..tables import AxisTable

__all__ = ["Muller", "MullerMethod", "gaussian_blur", "blur_table", "load", "PAPER_RESNET50"]

#: The released values for ResNet-50 (google-research ``muller/muller_demo.ipynb``, K = 2, bilinear,
#: no antialias): ``weights="paper-resnet50"``.
PAPER_RESNET50 = {"alpha": [1.892, -11.295], "beta": [-0.014, 0.003]}

BLUR_TAPS = 5
BLUR_SIGMA = 1.0


@lru_cache(maxsize=256)
def blur_table(n: int, taps: int = BLUR_TAPS, sigma: float = BLUR_SIGMA) -> AxisTable:
    """Same-size table of a normalised ``taps``-tap Gaussian on an axis of ``n`` samples, zero padded
    (taps past the border read a valid index with weight 0 and the row is not renormalised)."""
    if n < 1:
        raise ValueError(f"axis size must be positive, got {n}")
    r = taps // 2
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    pos = np.arange(n)[:, None] + np.arange(-r, r + 1)[None, :]  # [n, taps]
    inside = (pos >= 0) & (pos < n)
    weight = np.where(inside, g[None, :], 0.0)
    return AxisTable(n, n, np.clip(pos, 0, n - 1).astype(np.int32), weight)


def gaussian_blur(x: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """5-tap Gaussian blur (sigma 1, zero padding) of ``[N, C, H, W]`` -> ``[N, C, H, W]``, per channel."""
    for dim in (3, 2):
        x = resample_axis(x, blur_table(x.shape[dim]), dim, backend=backend)
    return x


class Muller(nn.Module):
    """The MULLER resizer: ``[N, C, H, W]`` float -> ``[N, C, h, w]`` of the same dtype and device.

    Args:
        size: output ``(height, width)`` (torch order) or one int for a square; or give
        scale: a factor, or ``(scale_h, scale_w)``; the output is ``max(1, floor(n * s + 0.5))``
            pixels per axis (:func:`rescale.output_size`). Neither: pass ``size`` to ``forward``.
        layers: K, the number of Laplacian bands (2 in the released code; 0 gives the base resizer).
        base: filter of the base resizer (any :mod:`rescale.filters` name or :class:`Filter`).
        antialias: whether the base resizer prefilters when shrinking (off in the released code, so
            the base image and the bands alias when shrinking by more than 2).
        edge, backend: as in :func:`rescale.resample.resample`.
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        scale: float | tuple[float, float] | None = None,
        layers: int = 2,
        base: str | Filter = "bilinear",
        antialias: bool = False,
        edge: str = "renormalize",
        backend: str = "auto",
    ):
        super().__init__()
        if size is not None and scale is not None:
            raise TypeError("give size or scale, not both")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
            raise ValueError(f"layers must be a non-negative int, got {layers!r}")
        self.size = None if size is None else _check_size((size, size) if isinstance(size, int) else tuple(size))
        self.scale = (
            None if scale is None else _check_scale((scale, scale) if isinstance(scale, (int, float)) else tuple(scale))
        )
        self.layers = layers
        self.base = get_filter(base)
        self.antialias, self.edge, self.backend = bool(antialias), edge, backend
        self.alpha = nn.Parameter(torch.zeros(layers))
        self.beta = nn.Parameter(torch.zeros(layers))

    @property
    def config(self) -> dict:
        """Constructor arguments that define the trained parameters' meaning (for manifests)."""
        return {"layers": self.layers, "base": self.base.name, "antialias": self.antialias, "edge": self.edge}

    def output_size(self, h: int, w: int, size=None) -> tuple[int, int]:
        """``(height, width)`` of the output for an ``h x w`` input."""
        if size is not None:
            return _check_size((size, size) if isinstance(size, int) else tuple(size))
        if self.size is not None:
            return self.size
        if self.scale is not None:
            sh, sw = self.scale
            return max(1, math.floor(h * sh + 0.5)), max(1, math.floor(w * sw + 0.5))
        raise TypeError("Muller needs a size: give size= or scale= to the constructor, or size= to forward")

    def forward(self, x: torch.Tensor, size: int | tuple[int, int] | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"expected an [N, C, H, W] tensor, got {getattr(x, 'shape', type(x).__name__)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"Muller needs a float tensor in [0, 1], got {x.dtype}")
        out_h, out_w = self.output_size(x.shape[-2], x.shape[-1], size)
        # Half precision is computed in float32 (the kernels accumulate in float32 anyway): the band
        # differences below would lose most of their bits in float16.
        work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x

        def resize(t: torch.Tensor) -> torch.Tensor:
            return resample(t, out_h, out_w, self.base, antialias=self.antialias, edge=self.edge, backend=self.backend)

        # R is linear, so R(x_k - x_{k-1}) = R(x_k) - R(x_{k-1}): the bands are differenced at the
        # output resolution, which saves the subtractions at the input resolution (with R shrinking,
        # the blurs are the only work left at the input size).
        y = r_prev = resize(work)
        prev = work
        alpha, beta = self.alpha.to(work.dtype), self.beta.to(work.dtype)
        for k in range(self.layers):
            blurred = gaussian_blur(prev, self.backend)
            r_cur = resize(blurred)
            y = y + torch.tanh(alpha[k] * (r_cur - r_prev) + beta[k])
            prev, r_prev = blurred, r_cur
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        target = f"size={self.size}" if self.size else f"scale={self.scale}" if self.scale else "size=at call"
        return (
            f"{target}, layers={self.layers}, base={self.base.name!r}, antialias={self.antialias}, edge={self.edge!r}"
        )


def _check_size(size) -> tuple[int, int]:
    if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in size):
        raise ValueError(f"size must be (height, width) of positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _check_scale(scale) -> tuple[float, float]:
    if len(scale) != 2 or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 for v in scale
    ):
        raise ValueError(f"scale must be a positive finite number or (scale_h, scale_w), got {scale!r}")
    return float(scale[0]), float(scale[1])


class MullerMethod(Method):
    """A trained :class:`Muller` as a registry method: ``down`` and ``up`` both apply the resizer
    (``size = (width, height)``). Kind ``"rescaler"`` (not ``"classical"``, which
    ``rescale.eval.protocol`` rebuilds from a plain filter), so evaluation runs this resizer both ways."""

    name = "muller"
    kind = "rescaler"

    def __init__(self, module: Muller, weights: str | None = None):
        self.module = module.eval()
        self.weights = weights

    def to(self, device) -> MullerMethod:
        self.module.to(device)
        return self

    def eval(self) -> MullerMethod:
        self.module.eval()
        return self

    def _apply(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        w, h = size
        with torch.no_grad():
            return self.module(x, (h, w))

    down = up = _apply


def load(*, weights: str | None = None, device="cpu", backend: str = "auto") -> MullerMethod:
    """The registry factory (``rescale.get_method("muller", weights=...)``).

    ``weights``: a shipped name (``weights/NAME.safetensors`` + ``NAME.json``), a path to a
    ``.safetensors`` file with its ``.json`` manifest beside it (as written by
    ``python -m rescale.train muller --export PATH``), or ``"paper-resnet50"`` (:data:`PAPER_RESNET50`).
    The manifest's ``architecture.args`` rebuild the module (layers, base, antialias, edge).
    """
    if weights is None:
        raise TypeError(
            'muller needs weights=: a trained file (python -m rescale.train muller --export PATH) or "paper-resnet50"'
        )
    if weights == "paper-resnet50":
        module = Muller(layers=2, base="bilinear", antialias=False, backend=backend)
        state = {k: torch.tensor(v) for k, v in PAPER_RESNET50.items()}
    else:
        from ..pretrained import load_manifest, load_state_dict

        module = Muller(**load_manifest(weights)["architecture"]["args"], backend=backend)
        state = load_state_dict(weights)
    module.load_state_dict(state)
    return MullerMethod(module.to(device), weights=weights)
