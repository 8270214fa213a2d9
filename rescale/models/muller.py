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

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..filters import Filter, get_filter
from ..methods import Method
from ..resample import resample, resample_axis
from ..sizes import check_scale, check_size, target_size
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

    Sizes and scales as everywhere in the package (``docs/conventions.md``):

    Args:
        size: output ``(width, height)`` (Pillow's order, not torch's) or one int for a square; or
        scale: a factor, or ``(sx, sy)`` (horizontal first); the output is ``max(1, floor(n * s + 0.5))``
            pixels per axis (:func:`rescale.output_size`); or
        width, height: the output width and/or height, one alone keeping the aspect ratio.
            None of them: pass ``size`` to ``forward``.
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
        *,
        width: int | None = None,
        height: int | None = None,
        layers: int = 2,
        base: str | Filter = "bilinear",
        antialias: bool = False,
        edge: str = "renormalize",
        backend: str = "auto",
    ):
        super().__init__()
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
            raise ValueError(f"layers must be a non-negative int, got {layers!r}")
        self.size = None if size is None else _size(size)
        self.scale = None if scale is None else _scale(scale)
        self.width, self.height = width, height
        if any(v is not None for v in (size, scale, width, height)):
            target_size(1, 1, **self._want(None))  # one of them, valid
        self.layers = layers
        self.base = get_filter(base)
        self.antialias, self.edge, self.backend = bool(antialias), edge, backend
        self.alpha = nn.Parameter(torch.zeros(layers))
        self.beta = nn.Parameter(torch.zeros(layers))

    @property
    def config(self) -> dict:
        """Constructor arguments that define the trained parameters' meaning (for manifests)."""
        return {"layers": self.layers, "base": self.base.name, "antialias": self.antialias, "edge": self.edge}

    def _want(self, size) -> dict:
        sx, sy = self.scale or (None, None)
        if size is not None:
            return {"size": _size(size)}
        return {"sx": sx, "sy": sy, "size": self.size, "width": self.width, "height": self.height}

    def output_size(self, w: int, h: int, size=None) -> tuple[int, int]:
        """``(width, height)`` of the output for a ``w x h`` input (``size``: as ``forward``'s)."""
        if size is None and self.size is self.scale is self.width is self.height is None:
            raise TypeError(
                "Muller needs a size: give size=, scale=, width= or height= to the constructor, or size= to forward"
            )
        return target_size(w, h, **self._want(size))

    def forward(self, x: torch.Tensor, size: int | tuple[int, int] | None = None) -> torch.Tensor:
        """``[N, C, H, W]`` -> ``[N, C, h, w]``; ``size``: ``(width, height)`` or an int for a square,
        instead of the constructor's."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"expected an [N, C, H, W] tensor, got {getattr(x, 'shape', type(x).__name__)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"Muller needs a float tensor in [0, 1], got {x.dtype}")
        out_w, out_h = self.output_size(x.shape[-1], x.shape[-2], size)
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
        given = {"size": self.size, "scale": self.scale, "width": self.width, "height": self.height}
        target = ", ".join(f"{k}={v}" for k, v in given.items() if v is not None) or "size=at call"
        return (
            f"{target}, layers={self.layers}, base={self.base.name!r}, antialias={self.antialias}, edge={self.edge!r}"
        )


def _size(size) -> tuple[int, int]:
    """``(width, height)``, or one int for a square."""
    return check_size((size, size) if isinstance(size, int) and not isinstance(size, bool) else size)


def _scale(scale) -> tuple[float, float]:
    """``(sx, sy)``, or one number for both axes."""
    if isinstance(scale, (tuple, list)):
        if len(scale) != 2:
            raise ValueError(f"scale must be a positive finite number or (sx, sy), got {scale!r}")
        return check_scale(scale[0], "sx"), check_scale(scale[1], "sy")
    s = check_scale(scale, "scale")
    return s, s


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
        with torch.no_grad():
            return self.module(x, size)

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
