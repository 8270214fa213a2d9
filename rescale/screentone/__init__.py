"""Screentone-preserving manga retargeting (``method="screentone"``).

- :mod:`.analysis`: :func:`analyze`, the screened regions of a page and their screens (its tile
  steps in :mod:`.tiles`, spectral peaks in :mod:`.spectrum`), and :func:`screen_map`, the same as
  per-pixel kind / period / angle / intensity maps;
- :mod:`.calibrate`: the synthesised screens' tone made equal to the source's;
- :mod:`.retarget`: :func:`retarget`, the method;
- :mod:`.pages`: which pages it is for (``rescale resize --screentone``);
- :mod:`.synth` and :mod:`.scores`: the synthetic benchmark (pages with dot/line/noise screens,
  rendered at the source size and, as ground truth, at the target size) and its scores.
"""

from .analysis import ScreenParams, Thresholds, analyze, screen_map
from .retarget import retarget

__all__ = ["ScreenParams", "Thresholds", "analyze", "screen_map", "retarget"]
