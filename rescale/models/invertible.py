"""Exactly invertible building blocks for rescaling networks (IRN, IARN).

Every block maps ``[N, C, H, W] -> [N, C', H', W']`` with ``forward`` and undoes it with ``inverse``;
the first ``c_lr`` (= 3) channels are the low-resolution image, the rest the latent ``z``.

- :func:`haar` / :func:`haar_inverse`: IRN's Haar stage, ``[N, C, H, W] -> [N, 4C, H/2, W/2]``,
  band-major (channels ``0:C`` are the 2x2 averages, i.e. a box-filtered half-size image).
- :class:`Lift`: a linear lifting pair (update then predict) on top of Haar. ``lr += U(z)`` moves the
  box average towards the bicubic LR (antialiasing); ``z -= P(lr)`` leaves in ``z`` only the detail a
  linear interpolator could not predict. So with ``z = 0`` the inverse is a learned linear
  upsampler, not Haar's nearest neighbour, and training starts near bicubic quality instead of 10 dB
  below it. ``U`` and ``P`` are fitted by least squares (:meth:`Lift.fit_`) before training.
- :class:`InvBlock`: IRN's affine coupling ``lr += F(z); z = z * exp(s(lr)) + G(lr)`` with
  ``s = clamp * tanh(h / 2)`` (= IRN's ``clamp * (2 sigmoid(h) - 1)``). ``s`` and ``G`` share one
  dense subnet (half the kernels of IRN's separate ``H`` and ``G``). Last convs start at zero, so a
  fresh block is the identity. With ``c_cond > 0`` every subnet also sees a condition ``[N, c_cond,
  H, W]`` (IARN's scale encoding); the coupling stays exactly invertible because the condition is
  known in both directions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..methods import Classical

__all__ = ["haar", "haar_inverse", "DenseBlock", "InvBlock", "Lift", "split_rgb", "merge_rgb"]


def haar(x: torch.Tensor) -> torch.Tensor:
    """``[N, C, H, W] -> [N, 4C, H/2, W/2]``: bands (average, horizontal, vertical, diagonal) / 4,
    band-major. ``H`` and ``W`` must be even."""
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"haar needs even height and width, got {h}x{w}")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    cc, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return torch.cat([a + b + cc + d, a - b + cc - d, a + b - cc - d, a - b - cc + d], 1) * 0.25


def haar_inverse(y: torch.Tensor) -> torch.Tensor:
    """``[N, 4C, h, w] -> [N, C, 2h, 2w]``, the exact inverse of :func:`haar`."""
    n, c4, h, w = y.shape
    if c4 % 4:
        raise ValueError(f"haar_inverse needs a multiple of 4 channels, got {c4}")
    lo, hb, vb, db = y.chunk(4, 1)
    a, b = lo + hb + vb + db, lo - hb + vb - db
    cc, d = lo + hb - vb - db, lo - hb - vb + db
    # interleave: [N, C, h, 2, w, 2] -> [N, C, 2h, 2w]
    top = torch.stack([a, b], -1).flatten(-2)
    bottom = torch.stack([cc, d], -1).flatten(-2)
    return torch.stack([top, bottom], -2).flatten(-3, -2)


class DenseBlock(nn.Module):
    """ESRGAN/IRN dense subnet: ``convs`` 3x3 convs, each fed the input and all earlier outputs,
    LeakyReLU(0.2) between, the last conv zero-initialised. ``[N, cin, H, W] -> [N, cout, H, W]``;
    with ``ccond > 0`` a condition ``[N, ccond, H, W]`` is appended to the input."""

    def __init__(self, cin: int, cout: int, growth: int = 32, convs: int = 5, ccond: int = 0):
        super().__init__()
        if convs < 2:
            raise ValueError(f"a dense block needs at least 2 convs, got {convs}")
        cin += ccond
        self.convs = nn.ModuleList(nn.Conv2d(cin + k * growth, growth, 3, padding=1) for k in range(convs - 1))
        self.last = nn.Conv2d(cin + (convs - 1) * growth, cout, 3, padding=1)
        for conv in self.convs:
            nn.init.xavier_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.last.weight)
        nn.init.zeros_(self.last.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond.to(x.dtype)], 1)
        if torch.is_autocast_enabled(x.device.type):  # concatenate in the low precision, not float32
            x = x.to(torch.get_autocast_dtype(x.device.type))
        feats = [x]
        for conv in self.convs:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return self.last(torch.cat(feats, 1))


class InvBlock(nn.Module):
    """Affine coupling on ``[N, c_lr + c_z, H, W]`` (see the module docstring)."""

    def __init__(self, c_lr: int, c_z: int, growth: int = 32, convs: int = 5, clamp: float = 1.0, c_cond: int = 0):
        super().__init__()
        self.c_lr, self.c_z, self.clamp = c_lr, c_z, clamp
        self.f = DenseBlock(c_z, c_lr, growth, convs, c_cond)
        self.sg = DenseBlock(c_lr, 2 * c_z, growth, convs, c_cond)

    def _scale_shift(self, lr: torch.Tensor, cond):
        h, g = self.sg(lr, cond).float().chunk(2, 1)  # float: the trunk stays float32 under autocast
        return self.clamp * torch.tanh(0.5 * h), g

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        lr, z = x[:, : self.c_lr], x[:, self.c_lr :]
        lr = lr + self.f(z, cond).float()
        s, g = self._scale_shift(lr, cond)
        return torch.cat([lr, z * torch.exp(s) + g], 1)

    def inverse(self, y: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        lr, z = y[:, : self.c_lr], y[:, self.c_lr :]
        s, g = self._scale_shift(lr, cond)
        z = (z - g) * torch.exp(-s)
        return torch.cat([lr - self.f(z, cond).float(), z], 1)


class Lift(nn.Module):
    """Linear lifting ``lr += U(z); z -= P(lr)`` on ``[N, c_lr + c_z, H, W]`` (convs, no bias)."""

    def __init__(self, c_lr: int, c_z: int, kernel: int = 5):
        super().__init__()
        self.c_lr = c_lr
        self.u = nn.Conv2d(c_z, c_lr, kernel, padding=kernel // 2, bias=False, padding_mode="replicate")
        self.p = nn.Conv2d(c_lr, c_z, kernel, padding=kernel // 2, bias=False, padding_mode="replicate")
        nn.init.zeros_(self.u.weight)
        nn.init.zeros_(self.p.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lr, z = x[:, : self.c_lr], x[:, self.c_lr :]
        lr = lr + self.u(z).float()
        return torch.cat([lr, z - self.p(lr).float()], 1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        lr, z = y[:, : self.c_lr], y[:, self.c_lr :]
        z = z + self.p(lr).float()
        return torch.cat([lr - self.u(z).float(), z], 1)

    @torch.no_grad()
    def fit_(self, x: torch.Tensor, target_lr: torch.Tensor | None, ridge: float = 1e-6) -> None:
        """Least-squares ``U`` (so that ``lr + U(z)`` matches ``target_lr``; skipped if None) and then
        ``P`` (the best linear prediction of ``z`` from the updated ``lr``), from a batch ``x`` of
        this block's inputs ``[N, c_lr + c_z, H, W]`` and ``target_lr`` ``[N, c_lr, H, W]``."""
        lr, z = x[:, : self.c_lr].double(), x[:, self.c_lr :].double()
        if target_lr is not None:
            self.u.weight.copy_(_lstsq_conv(z, target_lr.double() - lr, self.u, ridge))
        lr = lr + F.conv2d(F.pad(z, [self.u.padding[0]] * 4, mode="replicate"), self.u.weight.double())
        self.p.weight.copy_(_lstsq_conv(lr, z, self.p, ridge))


def _lstsq_conv(inp: torch.Tensor, target: torch.Tensor, conv: nn.Conv2d, ridge: float) -> torch.Tensor:
    """Weights of ``conv`` (no bias, replicate padding) minimising ``|conv(inp) - target|^2``."""
    k = conv.kernel_size[0]
    cols = F.unfold(F.pad(inp, [k // 2] * 4, mode="replicate"), k)  # [N, Cin*k*k, H*W]
    a = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    b = target.flatten(2).transpose(1, 2).reshape(-1, target.shape[1])
    gram = a.T @ a
    gram += ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    w = torch.linalg.solve(gram, a.T @ b)  # [Cin*k*k, Cout]
    return w.T.reshape(conv.weight.shape).to(conv.weight.dtype)


def split_rgb(x: torch.Tensor):
    """The RGB a network of this family takes, and the channels it leaves out: grey is repeated
    to RGB (``None`` left), RGBA gives its alpha."""
    if x.dim() != 4 or x.shape[1] not in (1, 3, 4):
        raise ValueError(f"IRN takes [N, C, H, W] with C = 1, 3 or 4, got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1), None
    return x[:, :3], (x[:, 3:] if x.shape[1] == 4 else None)


def merge_rgb(rgb: torch.Tensor, rest, x: torch.Tensor, size) -> torch.Tensor:
    """Inverse of :func:`split_rgb` for an output of ``size`` made from ``x``: grey is the mean of
    RGB, alpha (no learned model for it) is resampled with antialiased bicubic."""
    if x.shape[1] == 1:
        return rgb.mean(1, keepdim=True)
    if rest is not None:  # alpha: no learned model for it; plain antialiased bicubic
        return torch.cat([rgb, Classical("bicubic").down(rest.float(), size)], 1)
    return rgb
