"""IARN-style invertible rescaling for any scale from 1 to 4 per axis, asymmetric included.

IARN (Pan, Li, He, Wu, Ding, WACV 2023) trains one invertible network for arbitrary scales with two
ideas named in its abstract: *position-aware scale encoding* and *preemptive channel splitting*,
which make the non-invertible arbitrary-size rescaling cycle "effectively invertible". Only the
abstract is available here, so this module is our own design built on those two ideas:

1. **An exactly invertible cycle around one fixed trunk.** An HR image ``H x W`` with target LR
   size ``h x w`` is first enlarged to a *pivot* of exactly ``4h x 4w`` (bicubic, our resampling
   kernels, differentiable). Since ``h >= H / 4`` the pivot is never smaller than the HR, so this
   step loses nothing: its pseudo-inverse ``U+`` (a dense least-squares left inverse per axis,
   :func:`pivot_inverse`) gives the HR back exactly (``U+ U = I``). An IRN x4 trunk (two
   ``haar -> Lift -> coupling blocks`` stages, :mod:`rescale.models.irn`) maps the pivot to
   ``[N, 48, h, w]``.
2. **Preemptive channel splitting.** The LR channels (``0:3``) are split from the latent on the
   exact target grid, inside the trunk: the one step that is not a bijection onto the HR size (the
   resize) happens on the HR side, before the split, where it is injective, so neither the LR nor the
   latent ever passes through a lossy resampler. Upscaling runs the inverse trunk on
   ``[LR, z = 0]`` and ``U+``; what is lost is only ``z`` and the 8-bit rounding, as in IRN.
3. **Position-aware scale encoding.** Every coupling subnet sees 4 extra input maps
   (:func:`scale_encoding`): the actual factors ``H / h`` and ``W / w`` (per image and axis, after
   rounding) and, per cell of the stage's grid, the sub-pixel phase of its centre on the HR grid.
   The condition is known in both directions, so every coupling stays exactly invertible. It tells
   the trunk how smooth the pivot is (a pivot enlarged 3.6x holds far less detail than one enlarged
   1x) and how the pivot samples sit on the HR pixels.

Because the trunk has exactly IRN x4's shape plus zero-initialised condition inputs, a fresh IARN
starts as our trained IRN x4 (:func:`from_irn`) and only has to learn the other scales.

:class:`IARNMethod` (registry name ``"iarn"``) wraps the shipped ``weights/iarn``: float
``[N, C, H, W]`` in ``[0, 1]``, any size, ``size=(width, height)``; large images are processed in
overlapping tiles of the LR grid. ``down``/``up`` are differentiable with respect to their input (the
weights are frozen), which HCD refinement needs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..filters import get_filter
from ..methods import Method
from ..resample import resample
from ..tables import axis_table
from .invertible import InvBlock, Lift, haar, haar_inverse, merge_rgb, split_rgb

__all__ = [
    "IARN",
    "IARNMethod",
    "scale_encoding",
    "pivot_inverse",
    "check_sizes",
    "from_irn",
    "load_model",
    "load",
    "COND",
    "MAX_SCALE",
]

#: channels of the scale encoding fed to every coupling subnet
COND = 4
#: the trunk reduces the pivot by 4, so the pivot stays at least the HR size up to this factor
MAX_SCALE = 4
_BICUBIC = get_filter("bicubic")


def scale_encoding(hr: tuple[int, int], lr: tuple[int, int], rows: int, cols: int, device=None) -> torch.Tensor:
    """Position-aware scale encoding ``[1, 4, rows, cols]`` for a ``rows x cols`` grid laid over an
    image rescaled from ``hr = (W, H)`` to ``lr = (w, h)`` (the LR grid, or the 2x finer grid of the
    first stage). Maps: ``(H/h - 1) / 3``, ``(W/w - 1) / 3`` (0 at scale 1, 1 at scale 4), and the
    fractional HR coordinate of each cell centre, vertically and horizontally."""
    (W, H), (w, h) = hr, lr

    def phase(n_hr: int, n: int) -> torch.Tensor:
        centre = (torch.arange(n, dtype=torch.float64) + 0.5) * (n_hr / n) - 0.5
        return (centre - centre.floor()).float()

    py, px = phase(H, rows), phase(W, cols)
    return torch.stack(
        [
            torch.full((rows, cols), (H / h - 1) / 3),
            torch.full((rows, cols), (W / w - 1) / 3),
            py[:, None].expand(rows, cols),
            px[None, :].expand(rows, cols),
        ]
    )[None].to(device)


def to_pivot(x: torch.Tensor, lr: tuple[int, int]) -> torch.Tensor:
    """``[N, C, H, W] -> [N, C, 4h, 4w]``: the bicubic enlargement ``U`` (differentiable)."""
    w, h = lr
    return resample(x, 4 * h, 4 * w, _BICUBIC, antialias=True, edge="renormalize")


@lru_cache(maxsize=32)
def _pinv(n: int, m: int) -> np.ndarray:
    """The ``[n, m]`` pseudo-inverse of the bicubic resampling ``n -> m`` of one axis."""
    table = axis_table(n, m, _BICUBIC, True, "renormalize")
    u = np.zeros((m, n))
    np.add.at(u, (np.repeat(np.arange(m), table.taps), table.index.reshape(-1)), table.weight.reshape(-1))
    if m >= n:  # full column rank: the exact left inverse (U^T U)^-1 U^T
        return np.linalg.solve(u.T @ u, u.T)
    return u.T @ np.linalg.inv(u @ u.T)  # a pivot slightly below the HR size (rounding at scale 4)


_PINV_CACHE: dict = {}


def _pinv_tensor(n: int, m: int, device, dtype) -> torch.Tensor:
    key = (n, m, str(device), dtype)
    if key not in _PINV_CACHE:
        if len(_PINV_CACHE) > 64:
            _PINV_CACHE.clear()
        _PINV_CACHE[key] = torch.from_numpy(_pinv(n, m)).to(device, dtype)
    return _PINV_CACHE[key]


def pivot_inverse(p: torch.Tensor, hr: tuple[int, int]) -> torch.Tensor:
    """``[N, C, 4h, 4w] -> [N, C, H, W]``: the least-squares inverse ``U+`` of :func:`to_pivot`
    (``U+ U = I`` whenever the pivot is at least the HR size), one matmul per axis."""
    W, H = hr
    dtype = p.dtype if p.dtype in (torch.float32, torch.float64) else torch.float32
    p = p.to(dtype)
    y = _pinv_tensor(H, p.shape[-2], p.device, dtype) @ p
    return y @ _pinv_tensor(W, p.shape[-1], p.device, dtype).T


def check_sizes(hr: tuple[int, int], lr: tuple[int, int]) -> None:
    """ValueError unless ``lr`` (width, height) is a reduction of ``hr`` by 1 to 4 per axis (the
    size rule's rounding at 4 allowed)."""
    for n, m, axis in ((hr[0], lr[0], "width"), (hr[1], lr[1], "height")):
        if not (1 <= m <= n and n <= MAX_SCALE * m + 2):
            raise ValueError(f"IARN rescales by factors 1 to {MAX_SCALE} per axis; {axis} {n} <-> {m} is outside")


class IARN(nn.Module):
    """The trunk: ``forward`` pivot ``[N, 3, 4h, 4w]`` -> ``[N, 48, h, w]`` (LR = channels 0:3),
    ``inverse`` back, both given the stages' scale encodings (:meth:`conditions`).

    Args:
        blocks, growth, convs, lift_kernel: as :class:`rescale.models.irn.IRN` (x4 shape).
        cond: channels of the scale encoding (:data:`COND`).
    """

    def __init__(self, blocks: int = 4, growth: int = 16, convs: int = 4, lift_kernel: int = 5, cond: int = COND):
        super().__init__()
        self.args = dict(blocks=blocks, growth=growth, convs=convs, lift_kernel=lift_kernel, cond=cond)
        self.lifts, self.stages = nn.ModuleList(), nn.ModuleList()
        c = 3
        for _ in range(2):
            c *= 4
            self.lifts.append(Lift(3, c - 3, lift_kernel))
            self.stages.append(nn.ModuleList(InvBlock(3, c - 3, growth, convs, c_cond=cond) for _ in range(blocks)))
        self.channels = c  # 3 + latent, at LR resolution

    @staticmethod
    def conditions(hr: tuple[int, int], lr: tuple[int, int], device=None) -> list[torch.Tensor]:
        """Scale encodings of the two stages: ``[1, 4, 2h, 2w]`` and ``[1, 4, h, w]``."""
        w, h = lr
        return [scale_encoding(hr, lr, 2 * h, 2 * w, device), scale_encoding(hr, lr, h, w, device)]

    def forward(self, pivot: torch.Tensor, conds: list[torch.Tensor]) -> torch.Tensor:
        y = pivot
        for lift, blocks, cond in zip(self.lifts, self.stages, conds):
            y = lift(haar(y))
            cond = cond.expand(y.shape[0], -1, -1, -1)
            for block in blocks:
                y = block(y, cond)
        return y

    def inverse(self, y: torch.Tensor, conds: list[torch.Tensor]) -> torch.Tensor:
        for k in reversed(range(len(self.stages))):
            cond = conds[k].expand(y.shape[0], -1, -1, -1)
            for block in reversed(self.stages[k]):
                y = block.inverse(y, cond)
            y = haar_inverse(self.lifts[k].inverse(y))
        return y

    def down(self, x: torch.Tensor, lr: tuple[int, int]) -> torch.Tensor:
        """HR ``[N, 3, H, W]`` -> ``[N, 48, h, w]`` (LR in channels 0:3, then the latent), untiled."""
        hr = (x.shape[-1], x.shape[-2])
        check_sizes(hr, lr)
        return self(to_pivot(x, lr), self.conditions(hr, lr, x.device))

    def up(self, y: torch.Tensor, hr: tuple[int, int]) -> torch.Tensor:
        """``[N, 3 or 48, h, w]`` (the LR alone means ``z = 0``) -> HR ``[N, 3, H, W]``, untiled."""
        lr = (y.shape[-1], y.shape[-2])
        check_sizes(hr, lr)
        if y.shape[1] == 3:
            y = torch.cat([y, y.new_zeros(y.shape[0], self.channels - 3, *y.shape[2:])], 1)
        return pivot_inverse(self.inverse(y, self.conditions(hr, lr, y.device)), hr)


def from_irn(model: IARN, irn_state: dict) -> int:
    """Initialise ``model`` from an IRN x4 state dict: every tensor is copied, the convs' input
    channels for the scale encoding get zero weights, so the IARN starts as that IRN on the pivot.
    Returns the number of tensors copied."""
    own = model.state_dict()
    cond = model.args["cond"]
    copied = 0
    with torch.no_grad():
        for name, value in irn_state.items():
            if name not in own:
                continue
            target = own[name]
            if target.shape == value.shape:
                target.copy_(value)
            elif (
                name.endswith(".weight")
                and target.shape[0] == value.shape[0]
                and target.shape[1] == value.shape[1] + cond
            ):
                # dense subnet conv: input channels [x, cond, features...]; x is the subnet's own input
                cin = _subnet_input(name, model)
                target.zero_()
                target[:, :cin] = value[:, :cin]
                target[:, cin + cond :] = value[:, cin:]
            else:
                raise ValueError(f"IRN tensor {name} {tuple(value.shape)} does not fit IARN {tuple(target.shape)}")
            copied += 1
    return copied


def _subnet_input(name: str, model: IARN) -> int:
    """Input channels (without the condition) of the dense subnet that tensor ``name`` belongs to."""
    parts = name.split(".")  # stages.K.B.(f|sg).(convs.I|last).weight
    block = model.stages[int(parts[1])][int(parts[2])]
    return block.c_z if parts[3] == "f" else block.c_lr


def load_model(name: str = "iarn", device="cpu") -> IARN:
    """An :class:`IARN` from shipped weights ``name`` or a ``.safetensors`` path (architecture from
    the manifest)."""
    from ..pretrained import load_manifest, load_state_dict

    model = IARN(**load_manifest(name)["architecture"]["args"])
    model.load_state_dict(load_state_dict(name))
    return model.to(device).eval().requires_grad_(False)


class IARNMethod(Method):
    """IARN as a registered method (``kind = "rescaler"``): one model for every scale 1-4 per axis.

    Args:
        weights: shipped weights name or ``.safetensors`` path (default ``"iarn"``).
        model: an :class:`IARN` to use instead (e.g. one being trained).
        tile: tile size in LR pixels (0: never tile); overlap: context in LR pixels.
    """

    name = "iarn"
    kind = "rescaler"

    def __init__(self, weights: str = "iarn", *, model: IARN | None = None, tile: int = 256, overlap: int = 16):
        self.weights, self._model = weights, model
        self.tile, self.overlap = tile, overlap

    def model(self, device) -> IARN:
        if self._model is None:
            self._model = load_model(self.weights)
        if next(self._model.parameters()).device != torch.device(device):
            self._model = self._model.to(device)
        return self._model

    def check_sizes(self, hr: tuple[int, int], lr: tuple[int, int]) -> None:
        check_sizes(hr, lr)  # ValueError unless 1 to 4 per axis

    def down(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[N, C, H, W] -> [N, C, size[1], size[0]]`` (C = 1, 3 or 4; alpha is resampled bicubic)."""
        hr = (x.shape[-1], x.shape[-2])
        check_sizes(hr, size)
        model = self.model(x.device)
        rgb, rest = split_rgb(x)
        pivot = to_pivot(rgb.float(), size)
        conds = model.conditions(hr, size, x.device)
        lr = self._tiled(
            lambda p, c1, c2: model(p, [c1, c2])[:, :3], [(pivot, 4), (conds[0], 2), (conds[1], 1)], 1, size, pivot
        )
        return merge_rgb(lr, rest, x, size).to(x.dtype)

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[N, C, h, w] -> [N, C, size[1], size[0]]`` with the latent ``z = 0``."""
        lr = (x.shape[-1], x.shape[-2])
        check_sizes(size, lr)
        model = self.model(x.device)
        rgb, rest = split_rgb(x)
        y = torch.cat(
            [rgb.float(), rgb.new_zeros(rgb.shape[0], model.channels - 3, *rgb.shape[2:], dtype=torch.float32)], 1
        )
        conds = model.conditions(size, lr, x.device)
        pivot = self._tiled(
            lambda t, c1, c2: model.inverse(t, [c1, c2]), [(y, 1), (conds[0], 2), (conds[1], 1)], 4, lr, y
        )
        return merge_rgb(pivot_inverse(pivot, size), rest, x, size).to(x.dtype)

    def _tiled(self, fn, inputs: list, out_factor: int, lr: tuple[int, int], probe: torch.Tensor) -> torch.Tensor:
        """Apply ``fn`` to tiles of the LR grid: each input ``(tensor, factor)`` holds ``factor``
        pixels per LR pixel; the output ``out_factor``. Gradients (HCD) run untiled."""
        w, h = lr
        tile = 0 if probe.requires_grad else self.tile
        if tile <= 0 or (h <= tile and w <= tile):
            return fn(*(t for t, _ in inputs))
        out, b, ov = None, out_factor, self.overlap
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                ya, xa, yb, xb = max(0, y0 - ov), max(0, x0 - ov), min(h, y1 + ov), min(w, x1 + ov)
                o = fn(*(t[..., ya * a : yb * a, xa * a : xb * a] for t, a in inputs))
                if out is None:
                    out = o.new_empty(o.shape[0], o.shape[1], h * b, w * b)
                out[..., y0 * b : y1 * b, x0 * b : x1 * b] = o[
                    ..., (y0 - ya) * b : (y1 - ya) * b, (x0 - xa) * b : (x1 - xa) * b
                ]
        return out


def load(**params) -> IARNMethod:
    """Registry factory for ``"iarn"`` (see :class:`IARNMethod` for ``params``)."""
    return IARNMethod(**params)
