"""Screentone-preserving manga retargeting (issue 9).

- :mod:`.synth`: the synthetic benchmark (line-art pages with dot/line/noise screens, rendered at
  the source size and, as ground truth, at the target size with screens at the same pixel pitch);
- :mod:`.metrics`: per-region intensity, period/angle, moire, screen distance; line-art IoU;
- :mod:`.analysis`: :func:`analyze`, the screened regions of a page and their screens;
- :mod:`.retarget`: :func:`retarget`, the method (``method="screentone"`` once registered).
"""

from .analysis import ScreenParams, analyze
from .retarget import retarget

__all__ = ["ScreenParams", "analyze", "retarget"]
