"""rescale: exact, fast, differentiable image rescaling, classical and learned.

>>> import rescale
>>> small = rescale.rescale(img, 0.5)                      # bicubic, Pillow-exact for 8-bit
>>> wide = rescale.rescale(img, 1.5, 1.0, method="lanczos")  # asymmetric
"""

from . import filters
from .api import output_size, rescale
from .filters import Filter

__all__ = ["rescale", "output_size", "filters", "Filter"]
__version__ = "0.1.0"
