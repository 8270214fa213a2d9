"""Random training patches from folders of images, decoded once and kept in memory.

Decoding a PNG every step costs more than a small model's step on CPU, so every image is decoded
once into a uint8 tensor (BSD200 + T91 take about 100 MB) on the training device, and each batch
is a set of random crops with random flips and 90-degree rotations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = ["PatchSampler", "image_files", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def image_files(folders) -> list[Path]:
    """All image files under ``folders`` (recursively), sorted for reproducibility."""
    files = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"training folder {folder} does not exist")
        files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images found in {', '.join(map(str, folders))}")
    return files


class PatchSampler:
    """Random RGB patches of ``patch`` x ``patch`` pixels.

    Args:
        folders: folders of training images (any size >= ``patch``; smaller ones are skipped).
        patch: crop size in pixels.
        device: where the images live and batches are made.
        seed: seeds the crop positions and augmentations.

    ``batch(n)`` returns float32 ``[n, 3, patch, patch]`` in ``[0, 1]``.
    """

    def __init__(self, folders, patch: int, *, device="cpu", seed: int = 0):
        self.patch = patch
        self.device = torch.device(device)
        self.images = []
        for path in image_files(folders):
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
            if min(arr.shape[:2]) >= patch:
                self.images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).to(self.device))
        if not self.images:
            raise ValueError(f"no training image is at least {patch} px on each side")
        areas = torch.tensor([im.shape[1] * im.shape[2] for im in self.images], dtype=torch.float64)
        self.weights = areas / areas.sum()  # pick images in proportion to their area
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, n: int) -> torch.Tensor:
        g, p = self.generator, self.patch
        picks = torch.multinomial(self.weights, n, replacement=True, generator=g).tolist()
        out = torch.empty((n, 3, p, p), dtype=torch.uint8, device=self.device)
        for i, k in enumerate(picks):
            im = self.images[k]
            y = int(torch.randint(0, im.shape[1] - p + 1, (1,), generator=g))
            x = int(torch.randint(0, im.shape[2] - p + 1, (1,), generator=g))
            crop = im[:, y : y + p, x : x + p]
            flip, rot = torch.randint(0, 2, (1,), generator=g).item(), torch.randint(0, 4, (1,), generator=g).item()
            if flip:
                crop = crop.flip(-1)
            out[i] = torch.rot90(crop, rot, (1, 2))
        return out.float().div_(255)
