"""CAIRN: compression-aware invertible rescaling, an IRN whose small image survives JPEG.

IRN (:mod:`rescale.models.irn`) hides the detail it needs in faint, mostly chromatic, high-frequency
patterns of its LR image; JPEG's 4:2:0 chroma and its coarse high-frequency quantisers delete them,
so a JPEG-stored IRN LR restores barely better than bicubic. CAIRN is designed from the ideas of SAIN
(Yang et al., AAAI 2023: a codec in the training loop, an upscaling branch trained to undo the
compression, mixed qualities) and sized for CPU training:

- **down**: an IRN forward ``f_down`` (same architecture, started from our IRN weights), fine-tuned
  with the real JPEG codec in the loop, so that what it hides in the LR is what JPEG keeps;
- **up** (asymmetric): a restoration branch ``R`` at LR resolution (a small residual CNN, last conv
  zero-initialised) maps the decoded LR to a corrected LR and an estimate of the latent ``z``, then an
  inverse IRN with its *own* weights ``f_up`` (started as a copy of ``f_down``) rebuilds the HR:
  ``up(lr) = f_up^-1([lr + R_lr(lr), R_z(lr)])``. Untrained, ``R = 0`` and ``f_up = f_down``: the
  model is exactly the IRN it started from.

``CAIRN(shared=True)`` uses ``f_down``'s inverse for up (no second copy), ``restore=0`` drops ``R``:
the ablation's variants (``docs/cairn.md``). The up direction is blind: it works for any quality and
for lossless LRs (the training mixes them).

:class:`CAIRNMethod` (registry name ``"cairn"``) wraps the shipped ``weights/cairn_x2`` and
``cairn_x4`` with the interface of :class:`rescale.models.irn.IRNMethod` (any size, tiles, float
``[N, C, H, W]`` in ``[0, 1]``, ``size=(width, height)``).

>>> import rescale, torch
>>> hr = torch.rand(1, 3, 64, 64)
>>> lr = rescale.down(hr, 2, method="cairn")  # store it as JPEG: it is made for that
>>> rescale.up(lr, 2, method="cairn").shape
torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .irn import IRN, IRNMethod, pick_scale, weights_by_scale

__all__ = ["CAIRN", "Restore", "CAIRNMethod", "load", "load_model", "from_irn", "with_own_up_path"]


class Restore(nn.Module):
    """Residual CNN at LR resolution: ``[N, 3, h, w] -> ([N, 3, h, w] LR correction, [N, c_z, h, w] latent)``.

    ``convs`` 3x3 convs of ``channels`` features with LeakyReLU(0.2) between; the last conv starts
    at zero, so a fresh branch changes nothing."""

    def __init__(self, c_z: int, channels: int = 32, convs: int = 6):
        super().__init__()
        if convs < 2:
            raise ValueError(f"the restoration branch needs at least 2 convs, got {convs}")
        self.c_z = c_z
        layers = [nn.Conv2d(3, channels, 3, padding=1)]
        layers += [nn.Conv2d(channels, channels, 3, padding=1) for _ in range(convs - 2)]
        self.body = nn.ModuleList(layers)
        self.last = nn.Conv2d(channels, 3 + c_z, 3, padding=1)
        nn.init.zeros_(self.last.weight)
        nn.init.zeros_(self.last.bias)

    def forward(self, lr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = lr - 0.5
        for conv in self.body:
            h = F.leaky_relu(conv(h), 0.2)
        out = self.last(h)
        return out[:, :3], out[:, 3:]


class CAIRN(nn.Module):
    """Compression-aware rescaler: ``forward`` ``[N, 3, H, W] -> [N, 3 + c_z, H/s, W/s]`` (the LR is
    channels ``0:3``), ``inverse`` back through the restoration branch and the up network.

    Args:
        scale, blocks, growth, convs, lift_kernel: the IRN architecture of both directions.
        shared: up runs ``f_down``'s own inverse (no separate up network).
        restore: features of the restoration branch (0: none); restore_convs: its depth.
    """

    def __init__(
        self,
        scale: int = 2,
        blocks: int = 4,
        growth: int = 16,
        convs: int = 4,
        lift_kernel: int = 5,
        shared: bool = False,
        restore: int = 32,
        restore_convs: int = 6,
    ):
        super().__init__()
        self.args = dict(
            scale=scale,
            blocks=blocks,
            growth=growth,
            convs=convs,
            lift_kernel=lift_kernel,
            shared=shared,
            restore=restore,
            restore_convs=restore_convs,
        )
        irn = dict(scale=scale, blocks=blocks, growth=growth, convs=convs, lift_kernel=lift_kernel)
        self.scale = scale
        self.down_net = IRN(**irn)
        self.up_net = None if shared else IRN(**irn)
        self.channels = self.down_net.channels
        self.restore = Restore(self.channels - 3, restore, restore_convs) if restore else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W] -> [N, C, H/s, W/s]``: the LR and the latent the down network leaves."""
        return self.down_net(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """``[N, C, h, w]`` (a decoded LR and a latent, usually 0) ``-> [N, 3, s h, s w]``."""
        lr, z = y[:, :3], y[:, 3:]
        if self.restore is not None:
            d_lr, d_z = self.restore(lr)
            lr, z = lr + d_lr, z + d_z
        net = self.down_net if self.up_net is None else self.up_net
        return net.inverse(torch.cat([lr, z], 1))

    def up(self, lr: torch.Tensor) -> torch.Tensor:
        """HR ``[N, 3, s h, s w]`` from an LR ``[N, 3, h, w]`` with the latent 0."""
        return self.inverse(torch.cat([lr, lr.new_zeros(lr.shape[0], self.channels - 3, *lr.shape[2:])], 1))


def from_irn(model: CAIRN, irn_state: dict) -> None:
    """Start ``model`` as the IRN of ``irn_state`` (its down network and, if separate, its up network)."""
    model.down_net.load_state_dict(irn_state)
    if model.up_net is not None:
        model.up_net.load_state_dict(irn_state)


def with_own_up_path(model: CAIRN, restore: int = 32, restore_convs: int = 6) -> CAIRN:
    """``model`` made asymmetric: its up network a copy of the down network (if it shared it) and a
    restoration branch of ``restore`` features (if it had none), zero at first: the same outputs as
    ``model``, with an up path that can now learn to undo the codec on its own (a shared, trained
    CAIRN continued the asymmetric way)."""
    args = dict(model.args, shared=False)
    if model.restore is None:
        args.update(restore=restore, restore_convs=restore_convs)
    grown = CAIRN(**args).to(next(model.parameters()).device)
    grown.down_net.load_state_dict(model.down_net.state_dict())
    grown.up_net.load_state_dict((model.up_net or model.down_net).state_dict())
    if model.restore is not None:
        grown.restore.load_state_dict(model.restore.state_dict())
    return grown


def load_model(name: str, device="cpu") -> CAIRN:
    """A :class:`CAIRN` from shipped weights ``name`` (e.g. ``"cairn_x2"``) or a ``.safetensors``
    path; the architecture comes from the manifest."""
    from ..pretrained import load_manifest, load_state_dict

    model = CAIRN(**load_manifest(name)["architecture"]["args"])
    model.load_state_dict(load_state_dict(name))
    return model.to(device).eval().requires_grad_(False)


class CAIRNMethod(IRNMethod):
    """CAIRN as a registered method (``kind = "rescaler"``); arguments as :class:`IRNMethod`, with
    ``weights`` defaulting to the shipped ``cairn_x2`` and ``cairn_x4`` (``weights={4: path}``
    for your own, ``python -m rescale.train cairn --scale 4``)."""

    name = "cairn"

    def __init__(self, weights: dict | str | None = None, **kw):
        super().__init__(**kw)
        self.weights = {2: "cairn_x2", 4: "cairn_x4", **weights_by_scale(weights)}

    def load_weights(self, name: str) -> CAIRN:
        return load_model(name)

    def model(self, scale: int, device) -> CAIRN:
        self._check_scale(scale)
        return super().model(scale, device)

    def check_sizes(self, hr: tuple[int, int], lr: tuple[int, int]) -> None:
        self._check_scale(pick_scale(hr, lr, "CAIRN"))

    def _check_scale(self, scale: int) -> None:
        if scale not in self.weights and scale not in self.models:
            have = ", ".join(f"x{s}" for s in sorted({*self.weights, *self.models}))
            raise ValueError(
                f"CAIRN has no x{scale} weights (shipped: {have}; docs/cairn.md); use irn, or train your own "
                f"(python -m rescale.train cairn --scale {scale}) and give weights={{{scale}: path}}"
            )


def load(**params) -> CAIRNMethod:
    """Registry factory for ``"cairn"`` (see :class:`CAIRNMethod` for ``params``)."""
    return CAIRNMethod(**params)
