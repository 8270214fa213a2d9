"""Other libraries' resizers reproduced bit for bit, with numpy alone (no torch): MATLAB's
``imresize`` (:func:`imresize`) and OpenCV's ``cv2.resize`` (:func:`cv2_resize`). What each equals,
and how the tests check it, is in ``docs/compat.md``."""

from .matlab import contributions, imresize, imresize_size
from .opencv import INTER_AREA, INTER_CUBIC, INTER_LINEAR, cv2_resize

__all__ = [
    "imresize",
    "imresize_size",
    "contributions",
    "cv2_resize",
    "INTER_LINEAR",
    "INTER_CUBIC",
    "INTER_AREA",
]
