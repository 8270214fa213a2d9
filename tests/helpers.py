"""Shared test utilities: the CPU backends every behavioural test runs on, and test images."""

from __future__ import annotations

import importlib
import struct
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import ImageCms


def _missing(module: str) -> str | None:
    """Why ``module`` cannot be used, or None. Only a missing module (ImportError) skips: a module
    that exists but is broken is left to fail loudly inside the tests that use it."""
    try:
        importlib.import_module(module)
    except ImportError as e:
        return f"{module} is not importable ({e})"
    except Exception:  # noqa: BLE001 - broken, not missing
        return None
    return None


_CPU_MISSING = _missing("rescale.kernels.cpu")

#: ``backend=`` values of the CPU implementations: the torch reference always, the fast CPU
#: kernels when they exist. Use as ``@pytest.mark.parametrize("backend", CPU_BACKENDS)``.
CPU_BACKENDS = [
    pytest.param("torch", id="torch"),
    pytest.param("cpu", id="cpu", marks=pytest.mark.skipif(_CPU_MISSING is not None, reason=_CPU_MISSING or "")),
]


def rng_for(*key) -> np.random.Generator:
    """A generator seeded from ``key`` (the test's parameters), so that each case has its own
    reproducible image."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def noise_u8(rng: np.random.Generator, h: int, w: int, c: int | None = None) -> np.ndarray:
    """uint8 image, HxW or HxWxC: random noise over the full range with a few flat regions of 0
    and 255, so that clipping of overshooting filters is exercised."""
    shape = (h, w) if c is None else (h, w, c)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    x[: h // 3, : w // 3] = 0
    x[h - h // 3 :, w - w // 3 :] = 255
    return x


def with_alpha_u8(rng: np.random.Generator, h: int, w: int, colors: int) -> np.ndarray:
    """HxWx(colors + 1) uint8 image whose alpha has regions of 0, of 255 and of random values."""
    x = rng.integers(0, 256, (h, w, colors + 1), dtype=np.uint8)
    a = x[..., -1]
    a[:, : w // 3] = 0
    a[: h // 2, w - w // 3 :] = 255
    return x


# --- invertible models (IRN, IARN) -----------------------------------------------------------------


def perturbed(model: torch.nn.Module, std: float = 0.02, seed: int = 0) -> torch.nn.Module:
    """``model`` with every weight moved off its (identity) initialisation, so couplings act."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)
    return model.eval().requires_grad_(False)


def smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A natural-ish test image ``[1, 3, h, w]``: smooth random colour fields plus a sharp edge."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(
        torch.rand(1, 3, h // 8 + 2, w // 8 + 2, generator=g), size=(h, w), mode="bicubic", align_corners=False
    )
    x[..., h // 3 :, w // 2 :] *= 0.5
    return x.clamp(0, 1)


# --- ICC profiles (linear light) ---


def srgb_profile() -> bytes:
    """littleCMS's own sRGB profile, as Pillow writes it."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def with_tone_curves(profile: bytes, tag: bytes | None) -> bytes:
    """``profile`` with its rTRC, gTRC and bTRC tags replaced by ``tag`` (removed when None)."""
    (count,) = struct.unpack_from(">I", profile, 128)
    tags = []
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
        if sig in (b"rTRC", b"gTRC", b"bTRC"):
            if tag is None:
                continue
            tags.append((sig, tag))
        else:
            tags.append((sig, profile[offset : offset + size]))
    offset = 132 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += struct.pack(">4sII", sig, offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = bytearray(profile[:128])
    header[0:4] = struct.pack(">I", offset + len(data))
    header[84:100] = bytes(16)  # profile ID: not computed
    return bytes(header) + struct.pack(">I", len(tags)) + table + data


def para(*params: float) -> bytes:
    kind = {1: 0, 3: 1, 4: 2, 5: 3, 7: 4}[len(params)]
    return b"para\0\0\0\0" + struct.pack(">HH", kind, 0) + b"".join(struct.pack(">i", round(p * 65536)) for p in params)


def curv(values) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">I", len(values)) + b"".join(struct.pack(">H", v) for v in values)
