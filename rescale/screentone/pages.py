"""Which pages the screentone method is for: greyscale and bitonal ones (``--screentone``)."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["not_screentone_page"]

#: 99.5th percentile of a pixel's distance from its grey level below which an RGB page counts as
#: greyscale: JPEG chroma noise on a grey scan stays under it, colour art does not.
GREY_TOLERANCE = 6


def not_screentone_page(img: Image.Image) -> str | None:
    """Why ``img`` is not a page for the screentone method, or None when it is: mode L or I;16, or
    RGB whose channels are equal up to JPEG noise."""
    if img.mode in ("L", "I;16"):
        return None
    if img.mode == "RGB":
        rgb = np.asarray(img, dtype=np.int16)
        if np.percentile(np.abs(rgb - rgb.mean(axis=2, keepdims=True)), 99.5) <= GREY_TOLERANCE:
            return None
        return "in colour"
    return f"mode {img.mode}"
