"""rescale: exact, fast, differentiable image rescaling, classical and learned.

>>> import rescale
>>> small = rescale.rescale(img, 0.5)                      # bicubic, Pillow-exact for 8-bit
>>> wide = rescale.rescale(img, 1.5, 1.0, method="lanczos")  # asymmetric
"""

import importlib.util as _util
import sys as _sys
from pathlib import Path as _Path


def _map_checkout_folders() -> None:
    """``kernels/`` and ``weights/`` sit beside this package in the repository and install as
    ``rescale.kernels`` / ``rescale.weights``. Running from a source checkout (``PYTHONPATH=.``,
    nothing installed, e.g. on a GPU machine), map them in the same way."""
    root = _Path(__file__).resolve().parent.parent
    for sub in ("kernels", "weights"):
        name = f"{__name__}.{sub}"
        init = root / sub / "__init__.py"
        if name in _sys.modules or _util.find_spec(name) is not None or not init.is_file():
            continue
        spec = _util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        module = _util.module_from_spec(spec)
        _sys.modules[name] = module
        spec.loader.exec_module(module)
        globals()[sub] = module


_map_checkout_folders()

from .version import __version__ as __version__  # noqa: E402

__all__ = [
    "rescale",
    "down",
    "up",
    "output_size",
    "filters",
    "Filter",
    "Method",
    "get_method",
    "register_method",
    "Rescale",
    "Muller",
]

# The public names are imported on first use (PEP 562), so that `import rescale` (and `rescale
# --version`) cost almost nothing, and no path imports torch unless it needs it: Rescale (torchvision)
# and Muller (torch) only when asked for.
_LAZY = {
    "rescale": ".api",
    "down": ".api",
    "up": ".api",
    "output_size": ".sizes",
    "Filter": ".filters",
    "Method": ".methods",
    "get_method": ".methods",
    "register_method": ".methods",
    "Rescale": ".transforms",
    "Muller": ".models.muller",
}


def __getattr__(name):
    if name == "filters":
        from . import filters

        return filters
    if name not in _LAZY:
        raise AttributeError(f"module 'rescale' has no attribute {name!r}")
    from .containers import import_extra

    value = getattr(import_extra(__name__ + _LAZY[name], f"rescale.{name}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *__all__])
