"""Screentone-preserving manga retargeting (issue 9).

- :mod:`.synth`: the synthetic benchmark (line-art pages with dot/line/noise screens, rendered at
  the source size and, as ground truth, at the target size with screens at the same pixel pitch);
- :mod:`.metrics`: per-region intensity, period/angle, moire, screen distance; line-art IoU;
- :mod:`.analysis`: :func:`analyze`, the screened regions of a page and their screens, and
  :func:`screen_map`, the same as per-pixel kind / period / angle / intensity maps;
- :mod:`.calibrate`: the synthesised screens' tone made flat and equal to the source's;
- :mod:`.retarget`: :func:`retarget`, the method (``method="screentone"``).
"""

from .analysis import ScreenParams, analyze, screen_map
from .retarget import retarget

__all__ = ["ScreenParams", "analyze", "screen_map", "retarget"]
