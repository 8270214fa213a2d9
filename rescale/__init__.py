"""rescale: exact, fast, differentiable image rescaling, classical and learned.

>>> import rescale
>>> small = rescale.rescale(img, 0.5)                      # bicubic, Pillow-exact for 8-bit
>>> wide = rescale.rescale(img, 1.5, 1.0, method="lanczos")  # asymmetric
"""

from . import filters
from .api import down, output_size, rescale, up
from .filters import Filter
from .methods import Method, get_method, register_method

__all__ = ["rescale", "down", "up", "output_size", "filters", "Filter", "Method", "get_method", "register_method"]
__version__ = "0.1.0"
