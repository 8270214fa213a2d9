"""IRN: invertible rescaling (Xiao et al. 2020), sized for small compute, with an optional dual latent.

Architecture (``IRN(scale, blocks, growth, convs, lift_kernel, dlv)``), per x2 stage:
``haar -> Lift -> blocks x InvBlock`` (see :mod:`rescale.models.invertible`). x4 is two x2 stages as in
IRN: the second stage's Haar takes all 12 channels of the first (LR and latent) to 48 at quarter
size, so the first stage has exactly the x2 model's shape and x2 weights can initialise it.
Channels ``0:3`` of the output are the LR image, the rest the latent ``z``; ``inverse`` is exact.

Dual latent variable (DLV-IRN, Zhang, Pan et al. 2022; designed here from the abstract's idea, the
paper body being unavailable): one HR image has many plausible LR images, so the forward map takes
a second, *downscaling* latent ``z_d`` besides the HR image: ``f(x, z_d) = (lr, z)``,
``f^-1(lr, z) = (x, z_d)``. ``z_d`` is ``dlv`` extra channels appended after the first Haar stage
(the cheapest place that keeps dimensions balanced: ``z`` grows by ``dlv`` channels). Training
samples ``z_d ~ N(0, sigma_d^2)`` (``--dlv-sigma``; 0 gives plain zero channels), so the LR and the
reconstruction from ``(LR, z = 0)`` must hold for every ``z_d``: the model learns a family of LRs per
HR while its couplings work in a wider space (as augmented normalising flows do), which is where any
gain in upscaling accuracy would come from. The inverse's ``z_d`` output is not trained (with
``z = 0`` it could only be recovered from the LR, which would cost LR quality). At test time
``z_d = 0`` (deterministic LR) and the returned ``z_d`` is dropped. ``dlv=0`` is plain IRN.

The :class:`IRNMethod` (registry name ``"irn"``) wraps trained weights ``weights/irn_x2`` and
``weights/irn_x4`` as a :class:`rescale.methods.Method`: float ``[N, C, H, W]`` in ``[0, 1]``,
``size=(width, height)``; any size (the HR is padded by edge replication, or cropped, to a multiple
of the scale), large images in overlapping tiles. ``down``/``up`` are differentiable with respect to
their input when it requires grad (the weights are frozen), which is what HCD needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..methods import Method
from .invertible import InvBlock, Lift, haar, haar_inverse, merge_rgb, split_rgb

__all__ = ["IRN", "IRNMethod", "load", "load_model", "quantize_ste", "bicubic_down", "SCALES", "weights_by_scale"]

SCALES = (2, 4)


class IRN(nn.Module):
    """Invertible rescaler: ``forward`` ``[N, 3, H, W] -> [N, 3 + c_z, H/s, W/s]``, ``inverse`` back.

    Args:
        scale: 2 or 4 (one or two x2 stages); ``H``, ``W`` must be multiples of it.
        blocks: coupling blocks per stage.
        growth, convs: width and depth of each dense subnet.
        lift_kernel: kernel size of the linear lifting convs.
        dlv: channels of the downscaling latent (0: plain IRN).
    """

    def __init__(
        self, scale: int = 2, blocks: int = 8, growth: int = 32, convs: int = 5, lift_kernel: int = 5, dlv: int = 0
    ):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"IRN scale must be one of {SCALES}, got {scale}")
        self.args = dict(scale=scale, blocks=blocks, growth=growth, convs=convs, lift_kernel=lift_kernel, dlv=dlv)
        self.scale, self.dlv = scale, dlv
        self.lifts, self.stages = nn.ModuleList(), nn.ModuleList()
        c = 3
        for k in range(int(math.log2(scale))):
            c = 4 * c + (dlv if k == 0 else 0)
            self.lifts.append(Lift(3, c - 3, lift_kernel))
            self.stages.append(nn.ModuleList(InvBlock(3, c - 3, growth, convs) for _ in range(blocks)))
        self.channels = c  # at LR resolution: 3 + latent

    def forward(self, x: torch.Tensor, zd: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[N, 3, H, W]`` (and ``zd`` ``[N, dlv, H/2, W/2]``, default 0) -> ``[N, C, H/s, W/s]``."""
        h = x
        for k, (lift, blocks) in enumerate(zip(self.lifts, self.stages)):
            h = haar(h)
            if k == 0 and self.dlv:
                h = torch.cat([h, h.new_zeros(h.shape[0], self.dlv, *h.shape[2:]) if zd is None else zd], 1)
            h = lift(h)
            for block in blocks:
                h = block(h)
        return h

    def inverse(self, y: torch.Tensor, *, return_zd: bool = False):
        """``[N, C, h, w] -> [N, 3, s h, s w]`` (and the recovered ``zd`` if ``return_zd``)."""
        h, zd = y, None
        for k in reversed(range(len(self.stages))):
            for block in reversed(self.stages[k]):
                h = block.inverse(h)
            h = self.lifts[k].inverse(h)
            if k == 0 and self.dlv:
                h, zd = h[:, : -self.dlv], h[:, -self.dlv :]
            h = haar_inverse(h)
        return (h, zd) if return_zd else h

    def up(self, lr: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Inverse from an LR ``[N, 3, h, w]`` with latent ``z`` (default 0)."""
        if z is None:
            z = lr.new_zeros(lr.shape[0], self.channels - 3, *lr.shape[2:])
        return self.inverse(torch.cat([lr, z], 1))


def quantize_ste(x: torch.Tensor) -> torch.Tensor:
    """8-bit rounding ``round(clamp(x, 0, 1) * 255) / 255`` with an identity gradient (straight-through,
    also through the clamp, as IRN)."""
    q = (x.detach().clamp(0, 1) * 255).round() / 255
    return x + (q - x.detach())


def _cubic(t: torch.Tensor) -> torch.Tensor:
    """Keys cubic with a = -0.5 (MATLAB ``imresize`` bicubic)."""
    t = t.abs()
    return torch.where(
        t <= 1, (1.5 * t - 2.5) * t * t + 1, torch.where(t < 2, ((-0.5 * t + 2.5) * t - 4) * t + 2, torch.zeros_like(t))
    )


def _symmetric_index(n: int, left: int, right: int, device) -> torch.Tensor:
    """Indices of MATLAB's 'symmetric' padding (mirror including the edge pixel)."""
    i = torch.arange(-left, n + right, device=device)
    period = 2 * n
    i = torch.remainder(i, period)
    return torch.where(i < n, i, period - 1 - i)


def bicubic_down(x: torch.Tensor, s: int) -> torch.Tensor:
    """MATLAB ``imresize(x, 1/s, 'bicubic')`` in float for an integer ``s`` and sizes divisible by it:
    ``[N, C, H, W] -> [N, C, H/s, W/s]``, one strided conv per axis (the training target; its match
    with :func:`rescale.rescale` ``edge="symmetric"`` is tested)."""
    n, c, h, w = x.shape
    taps = torch.arange(
        math.ceil((s - 1) / 2 - 2 * s + 1e-9), math.floor((s - 1) / 2 + 2 * s - 1e-9) + 1, dtype=torch.float64
    )
    weights = _cubic((taps - (s - 1) / 2) / s)
    weights = (weights / weights.sum()).to(x.dtype).to(x.device)
    left, right = int(-taps[0]), int(taps[-1]) - (s - 1)
    k = len(taps)
    y = x.reshape(n * c, 1, h, w)
    y = y[..., _symmetric_index(h, left, right, x.device), :]
    y = F.conv2d(y, weights.view(1, 1, k, 1), stride=(s, 1))
    y = y[..., _symmetric_index(w, left, right, x.device)]
    y = F.conv2d(y, weights.view(1, 1, 1, k), stride=(1, s))
    return y.reshape(n, c, h // s, w // s)


def load_model(name: str, device="cpu") -> IRN:
    """An :class:`IRN` from shipped weights ``name`` (e.g. ``"irn_x2"``) or a ``.safetensors`` path;
    the architecture comes from the manifest."""
    from ..pretrained import load_manifest, load_state_dict

    model = IRN(**load_manifest(name)["architecture"]["args"])
    model.load_state_dict(load_state_dict(name))
    return model.to(device).eval().requires_grad_(False)


def _tiled(fn, x: torch.Tensor, a: int, b: int, tile: int, overlap: int) -> torch.Tensor:
    """Apply ``fn`` (input ``[N, C, a h, a w]`` -> output ``[N, C', b h, b w]``) in tiles of ``tile``
    grid cells with ``overlap`` cells of context on each side, keeping each tile's centre."""
    h, w = x.shape[-2] // a, x.shape[-1] // a
    if tile <= 0 or (h <= tile and w <= tile):
        return fn(x)
    out = None
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa, yb, xb = max(0, y0 - overlap), max(0, x0 - overlap), min(h, y1 + overlap), min(w, x1 + overlap)
            o = fn(x[..., ya * a : yb * a, xa * a : xb * a])
            if out is None:
                out = o.new_empty(x.shape[0], o.shape[1], h * b, w * b)
            out[..., y0 * b : y1 * b, x0 * b : x1 * b] = o[
                ..., (y0 - ya) * b : (y1 - ya) * b, (x0 - xa) * b : (x1 - xa) * b
            ]
    return out


def _fit(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop or edge-replicate ``x`` at the bottom/right to ``height`` x ``width``."""
    x = x[..., :height, :width]
    ph, pw = height - x.shape[-2], width - x.shape[-1]
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def pick_scale(hr: tuple[int, int], lr: tuple[int, int], name: str = "IRN") -> int:
    """The IRN scale (2 or 4) that maps an HR size (width, height) to an LR size, or ValueError
    (naming the method ``name``)."""
    for s in SCALES:
        if all(math.floor(n_hr / s) <= n_lr <= math.ceil(n_hr / s) for n_hr, n_lr in zip(hr, lr)):
            return s
    raise ValueError(
        f"{name} rescales by 2 or 4; {hr[0]}x{hr[1]} <-> {lr[0]}x{lr[1]} is neither: for any factor from 1 to 4 "
        "per axis, use method='iarn'"
    )


def weights_by_scale(weights: dict | str | None) -> dict:
    """``{scale: name or path}`` from a mapping, or from one name or path (its manifest's scale)."""
    if weights is None or isinstance(weights, dict):
        return dict(weights or {})
    from ..pretrained import load_manifest

    return {load_manifest(str(weights))["architecture"]["args"]["scale"]: str(weights)}


class IRNMethod(Method):
    """IRN as a registered method (``kind = "rescaler"``).

    Args:
        weights: ``{scale: name or path}``, or one name or path, used for the scale its manifest
            says (what ``--weights`` gives); defaults to the shipped ``irn_x2`` / ``irn_x4``.
        models: ``{scale: IRN}`` to use instead of weights (e.g. a model being trained).
        tile: tile size in LR pixels (0: never tile); overlap: context in LR pixels.
        z_sigma: standard deviation of the sampled latent for ``up`` (0: deterministic ``z = 0``).
        seed: seeds the latent when ``z_sigma > 0``.
    """

    name = "irn"
    kind = "rescaler"

    def __init__(
        self,
        weights: dict | str | None = None,
        *,
        models: dict | None = None,
        tile: int = 256,
        overlap: int = 24,
        z_sigma: float = 0.0,
        seed: int = 0,
    ):
        self.weights = {2: "irn_x2", 4: "irn_x4", **weights_by_scale(weights)}
        self.models = dict(models or {})
        self.tile, self.overlap, self.z_sigma, self.seed = tile, overlap, z_sigma, seed

    def load_weights(self, name: str) -> IRN:
        """The network of weights ``name`` (subclasses with another network override this)."""
        return load_model(name)

    def model(self, scale: int, device) -> IRN:
        m = self.models.get(scale)
        if m is None:
            m = self.models[scale] = self.load_weights(self.weights[scale])
        if next(m.parameters()).device != torch.device(device):
            m = self.models[scale] = m.to(device)
        return m

    def down(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[N, C, H, W] -> [N, C, size[1], size[0]]`` (C = 1, 3 or 4; alpha is resampled bicubic)."""
        w, h = size
        s = pick_scale((x.shape[-1], x.shape[-2]), (w, h), self.name.upper())
        model = self.model(s, x.device)
        rgb, rest = split_rgb(x)
        rgb = _fit(rgb.float(), h * s, w * s)
        lr = _tiled(lambda t: model(t)[:, :3], rgb, s, 1, self._tile(rgb), self.overlap)
        return merge_rgb(lr, rest, x, size).to(x.dtype)

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[N, C, h, w] -> [N, C, size[1], size[0]]`` with the latent ``z = 0`` (or sampled)."""
        W, H = size
        s = pick_scale((W, H), (x.shape[-1], x.shape[-2]), self.name.upper())
        model = self.model(s, x.device)
        rgb, rest = split_rgb(x)
        z = rgb.new_zeros(rgb.shape[0], model.channels - 3, *rgb.shape[2:], dtype=torch.float32)
        if self.z_sigma > 0:
            g = torch.Generator(device="cpu").manual_seed(self.seed)
            z = (torch.randn(z.shape, generator=g) * self.z_sigma).to(x.device)
        full = torch.cat([rgb.float(), z], 1)
        hr = _tiled(model.inverse, full, 1, s, self._tile(full), self.overlap)
        return merge_rgb(_fit(hr, H, W), rest, x, size).to(x.dtype)

    def check_sizes(self, hr: tuple[int, int], lr: tuple[int, int]) -> None:
        pick_scale(hr, lr)  # ValueError unless x2 or x4

    def _tile(self, x: torch.Tensor) -> int:
        return 0 if x.requires_grad else self.tile  # gradients (HCD) run untiled


def load(**params) -> IRNMethod:
    """Registry factory for ``"irn"`` (see :class:`IRNMethod` for ``params``)."""
    return IRNMethod(**params)
