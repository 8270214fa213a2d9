"""ESPCN (Shi et al., CVPR 2016): super-resolution with a sub-pixel convolution layer.

Every convolution runs at low resolution; the last one makes ``r * r`` values per pixel and
:func:`torch.nn.functional.pixel_shuffle` rearranges them into an ``r`` times larger image:
``out[n, c, h * r + i, w * r + j] = conv3[n, c * r * r + i * r + j, h, w]``.

As in the paper, the network sees only luma: colour images go to MATLAB ``rgb2ycbcr`` YCbCr
(BT.601 studio swing), Y goes through the network, Cb and Cr are upscaled with MATLAB-style bicubic,
and the result goes back to RGB. Grey images are treated as RGB with R = G = B (so Y is the grey level
mapped to ``[16, 235]``); an alpha channel is upscaled with bicubic.

One network per scale (x2, x3, x4), shipped as ``weights/espcn_x{r}.safetensors`` with a manifest
(``espcn_x{r}.json``) holding the constructor arguments under ``architecture``. Train them with
``python -m rescale.train espcn --scale r ...`` (:mod:`rescale.train.espcn`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..methods import Method, matlab_bicubic

__all__ = ["ESPCNNet", "ESPCN", "PADDINGS", "load", "rgb_to_ycbcr", "ycbcr_to_rgb", "SCALES"]

#: Scales with a shipped network.
SCALES = (2, 3, 4)

# MATLAB rgb2ycbcr for R, G, B in [0, 1]: YCbCr (on 0..255) = offset + matrix @ RGB.
_YCBCR_MATRIX = torch.tensor(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=torch.float64
)
_YCBCR_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2ycbcr`` on floats: ``[N, 3, H, W]`` RGB in ``[0, 1]`` -> YCbCr in ``[0, 1]``
    (Y in ``[16, 235] / 255``)."""
    m = (_YCBCR_MATRIX / 255).to(x.device, x.dtype)
    return torch.einsum("ij,njhw->nihw", m, x) + (_YCBCR_OFFSET / 255).to(x.device, x.dtype)[:, None, None]


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (MATLAB ``ycbcr2rgb``), not clamped."""
    inv = torch.linalg.inv(_YCBCR_MATRIX / 255).to(x.device, x.dtype)
    return torch.einsum("ij,njhw->nihw", inv, x - (_YCBCR_OFFSET / 255).to(x.device, x.dtype)[:, None, None])


def grey_to_y(g: torch.Tensor) -> torch.Tensor:
    """Grey level in ``[0, 1]`` -> the Y of the RGB pixel ``(g, g, g)``."""
    return (16 + 219 * g) / 255


def y_to_grey(y: torch.Tensor) -> torch.Tensor:
    return (255 * y - 16) / 219


#: How the convolutions pad the image (``ESPCNNet(padding=...)``).
PADDINGS = ("zeros", "replicate")


class ESPCNNet(nn.Module):
    """The paper's network: conv f1/n1, tanh, conv f2/n2, tanh, conv f3 to ``r^2 C``, pixel shuffle.

    Args:
        scale: the upscaling factor ``r``.
        channels: image channels ``C`` (1 for the Y model).
        n1, n2: feature maps of the first two layers (paper: 64, 32).
        f1, f2, f3: kernel sizes (paper: 5, 3, 3); "same" padding keeps the LR size.
        padding: how each conv sees past the image's edge: ``"zeros"`` (what every weights file
            trained before this option uses) or ``"replicate"`` (the edge pixels repeated, as
            Pillow's filters treat borders: no dark frame for the first layer to undo; the shipped
            x2, docs/espcn.md).

    Shape:
        ``[N, C, H, W]`` -> ``[N, C, r H, r W]``; no nonlinearity or clamp after the last layer.
    """

    def __init__(
        self,
        scale: int,
        channels: int = 1,
        n1: int = 64,
        n2: int = 32,
        f1: int = 5,
        f2: int = 3,
        f3: int = 3,
        padding: str = "zeros",
    ):
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.scale, self.channels = scale, channels
        self.config = dict(scale=scale, channels=channels, n1=n1, n2=n2, f1=f1, f2=f2, f3=f3, padding=padding)
        pad = dict(padding_mode=padding)
        self.conv1 = nn.Conv2d(channels, n1, f1, padding=f1 // 2, **pad)
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=f2 // 2, **pad)
        self.conv3 = nn.Conv2d(n2, channels * scale * scale, f3, padding=f3 // 2, **pad)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As the faithful reimplementation (yjn870): He-style normal init for the tanh layers, a tiny
        # last layer so training starts from a flat output instead of noise.
        for conv in (self.conv1, self.conv2):
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2 / (conv.out_channels * conv.weight[0, 0].numel())))
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.conv3.weight, 0.0, 1e-3)
        nn.init.constant_(self.conv3.bias, 0.5)  # mid-grey: the last layer learns slowly (paper: 10x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected [N, {self.channels}, H, W], got {tuple(x.shape)}")
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return F.pixel_shuffle(self.conv3(x), self.scale)


def pick_scale(in_size: tuple[int, int], size: tuple[int, int], scales) -> int | None:
    """The network to run for ``in_size -> size`` (both ``(width, height)``): the smallest scale that
    reaches the larger of the two ratios (the rest is a bicubic downscale, which keeps detail),
    else the largest scale; ``None`` when the image does not grow (bicubic alone)."""
    ratio = max(size[0] / in_size[0], size[1] / in_size[1])
    if ratio <= 1:
        return None
    for r in sorted(scales):
        if r >= ratio - 1e-9:
            return r
    return max(scales)


class ESPCN(Method):
    """ESPCN as a :class:`rescale.methods.Method` of kind ``"upscaler"``.

    Args:
        nets: ``{scale: ESPCNNet}`` (Y models, ``channels=1``); missing scales are loaded from the
            shipped weights on first use.
        backend: resampling backend for the bicubic parts (chroma, alpha, the final resize).
        weights: name or path pattern of the weights, ``{scale}`` filled in (default
            ``"espcn_x{scale}"``, the shipped ones).
    """

    name = "espcn"
    kind = "upscaler"

    def __init__(self, nets: dict | None = None, *, backend: str = "auto", weights: str = "espcn_x{scale}"):
        self.nets = dict(nets or {})
        self.backend = backend
        self.weights = weights
        self.device = None
        self.bicubic = matlab_bicubic(backend)

    # nn.Module-like, so that rescale.eval.protocol can move it and switch to eval mode
    def to(self, device) -> ESPCN:
        self.device = torch.device(device)
        for net in self.nets.values():
            net.to(self.device)
        return self

    def eval(self) -> ESPCN:
        for net in self.nets.values():
            net.eval()
        return self

    def net(self, scale: int) -> ESPCNNet:
        """The network for ``scale``, loaded from the weights on first use."""
        if scale not in self.nets:
            net = load_net(self.weights.format(scale=scale), device=self.device or "cpu")
            # Channels-last weights let oneDNN keep the 64- and 32-channel activations in its own
            # layout: 1.5x the frames per second on CPU at x2 and x3 (bench/espcn.py).
            self.nets[scale] = net.to(memory_format=torch.channels_last)
        return self.nets[scale]

    def down(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """MATLAB-style bicubic: the degradation the networks were trained to undo."""
        return self.bicubic.down(x, size)

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """``[N, C, H, W]`` (C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA; float in ``[0, 1]``) ->
        ``[N, C, size[1], size[0]]``, not clamped."""
        if x.dim() != 4 or x.shape[1] not in (1, 2, 3, 4):
            raise ValueError(f"expected [N, C, H, W] with C in 1..4, got {tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"expected a float tensor in [0, 1], got {x.dtype}")
        in_h, in_w = x.shape[-2:]
        scale = pick_scale((in_w, in_h), size, self.nets.keys() | set(SCALES))
        if scale is None:
            return self.bicubic.up(x, size)
        net = self.net(scale)
        colour = x.shape[1] >= 3
        image, alpha = (x[:, :3], x[:, 3:]) if colour else (x[:, :1], x[:, 1:])
        ycbcr = rgb_to_ycbcr(image) if colour else None
        y = ycbcr[:, :1] if colour else grey_to_y(image)
        param = next(net.parameters())
        with torch.no_grad():
            y_in = y.to(param.device, param.dtype).contiguous(memory_format=torch.channels_last)
            y_sr = net(y_in).to(x.device, x.dtype).contiguous()
        big = (in_w * scale, in_h * scale)
        if colour:
            chroma = self.bicubic.up(ycbcr[:, 1:], big)
            out = ycbcr_to_rgb(torch.cat([y_sr, chroma], 1))
        else:
            out = y_to_grey(y_sr)
        if alpha.shape[1]:
            out = torch.cat([out, self.bicubic.up(alpha, big)], 1)
        if big != tuple(size):  # antialiased where it shrinks, interpolating where it grows
            out = self.bicubic.up(out, size)
        return out


def load_net(weights: str, device="cpu") -> ESPCNNet:
    """An :class:`ESPCNNet` from shipped weights (name) or a ``.safetensors`` path, built from the
    ``architecture`` in its manifest."""
    from ..pretrained import load_manifest, load_state_dict

    arch = load_manifest(weights)["architecture"]
    net = ESPCNNet(**arch["args"])
    net.load_state_dict(load_state_dict(weights, device=device))
    return net.to(device).eval()


def load(*, device="cpu", backend: str = "auto", weights: str = "espcn_x{scale}", pretrained: bool = True) -> ESPCN:
    """The registry factory (``rescale.get_method("espcn")``). ``pretrained=False`` gives randomly
    initialised x2/x3/x4 networks (tests, training from scratch)."""
    nets = (
        {r: ESPCNNet(r).to(device, memory_format=torch.channels_last).eval() for r in SCALES} if not pretrained else {}
    )
    return ESPCN(nets, backend=backend, weights=weights).to(device)
