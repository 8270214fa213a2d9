"""Registry of rescaling methods, classical and learned, each with a down and an up direction.

A :class:`Method` works on float tensors in ``[0, 1]`` of shape ``[N, C, H, W]``:
``down(x, size)`` returns the low-resolution image, ``up(lr, size)`` the high-resolution one, with
``size = (width, height)`` of the result. The user-facing :func:`rescale.down` / :func:`rescale.up`
wrap them for every image kind (see ``api.py``).

- classical filters (every name in :mod:`rescale.filters`) resample in both directions;
- upscalers (SR networks such as ESPCN) learn ``up``; their ``down`` is MATLAB-style bicubic, the
  degradation they were trained for;
- rescalers (IRN and relatives) learn both directions together.

Learned methods are registered by import path and only imported when first asked for, so
``import rescale`` stays light. Register one with ``register_method("name", "module:factory")``;
``factory(**params)`` returns a :class:`Method`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from .containers import import_extra
from .filters import Filter, available, get_filter

if TYPE_CHECKING:
    import torch

__all__ = [
    "Method",
    "Classical",
    "register_method",
    "get_method",
    "load_method",
    "learned_methods",
    "is_method",
    "get_refiner",
    "REFINERS",
]

KINDS = ("classical", "upscaler", "rescaler")


class Method:
    """Base class: a named pair of directions over float ``[N, C, H, W]`` tensors in ``[0, 1]``."""

    name: str = "method"
    kind: str = "classical"

    def down(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def check_sizes(self, hr: tuple[int, int], lr: tuple[int, int]) -> None:
        """ValueError unless this method rescales between ``hr`` and ``lr`` (both ``(width, height)``),
        decided from the sizes alone, so callers can ask before they allocate anything (``rescale
        up`` checks a file's size record with it). The base class takes any sizes."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r})"


class Classical(Method):
    """A resampling filter used for both directions."""

    kind = "classical"

    def __init__(
        self,
        filt: str | Filter = "bicubic",
        *,
        antialias: bool = True,
        edge: str = "renormalize",
        backend: str = "auto",
    ):
        self.filter = get_filter(filt)
        self.name = self.filter.name
        self.antialias, self.edge, self.backend = antialias, edge, backend

    def _apply(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        from .resample import resample

        w, h = size
        return resample(x, h, w, self.filter, antialias=self.antialias, edge=self.edge, backend=self.backend)

    down = up = _apply


def matlab_bicubic(backend: str = "auto") -> Classical:
    """MATLAB ``imresize`` bicubic (antialiased, symmetric edges): how SR papers make LR images."""
    return Classical("bicubic", antialias=True, edge="symmetric", backend=backend)


#: name -> "module:factory" for learned methods (imported on first use).
_LEARNED: dict[str, str | Callable[..., Method]] = {}


def register_method(name: str, target: str | Callable[..., Method]) -> None:
    """Register a learned method by import path ("package.module:factory") or factory."""
    _LEARNED[name.lower()] = target
    _load_method.cache_clear()  # a re-registered name must not keep serving the old method


def learned_methods() -> list[str]:
    return sorted(_LEARNED)


def is_method(name) -> bool:
    """Whether ``name`` is a :class:`Method` or names a learned one (as opposed to a plain filter)."""
    return isinstance(name, Method) or (isinstance(name, str) and name.lower() in _LEARNED)


def get_method(name: str | Method | Filter, **params) -> Method:
    """Resolve a method: a :class:`Method` passes through, a learned name is built from its factory,
    anything else is a filter used classically (``params`` go to :class:`Classical`)."""
    if isinstance(name, Method):
        return name
    if is_method(name):
        target = _LEARNED[name.lower()]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(import_extra(module, f"method {name.lower()!r}"), attr)
        return target(**params)
    if isinstance(name, str) and name.lower() not in available():
        raise ValueError(
            f"unknown method {name!r}; filters: {', '.join(available())}; "
            f"learned: {', '.join(learned_methods()) or 'none'}"
        )
    return Classical(name, **params)


def load_method(name: str, device: str | torch.device = "cpu", **params) -> Method:
    """Learned method ``name`` with its default options (or ``params``, e.g. ``weights=``), on
    ``device`` and in eval mode, built once per process, device and options: the one loader of the
    API, the batch runner, Ray workers and the evaluation, so that each process reads a method's
    weights once."""
    if not is_method(name):
        raise ValueError(f"{name!r} is not a learned method; learned: {', '.join(learned_methods()) or 'none'}")
    return _load_method(name.lower(), str(device), tuple(sorted(params.items())))


@cache
def _load_method(name: str, device: str, params: tuple = ()) -> Method:
    method = get_method(name, **dict(params))
    if callable(getattr(method, "to", None)):  # nn.Module-like methods
        method = method.to(device) or method
    if callable(getattr(method, "eval", None)):
        method.eval()
    return method


#: ``rescale.down(..., refine=name)``: name -> "module:function" (imported on first use) of a
#: test-time refinement ``fn(method, hr, lr, *, quantize) -> lr`` of a learned method's LR.
REFINERS = {"hcd": "rescale.models.hcd:hcd"}


def get_refiner(name: str) -> Callable:
    """The refinement algorithm ``refine=name`` of :func:`rescale.down`."""
    if not isinstance(name, str) or name.lower() not in REFINERS:
        raise ValueError(f"unknown refine {name!r}; expected one of {', '.join(sorted(REFINERS))}")
    module, _, attr = REFINERS[name.lower()].partition(":")
    return getattr(import_extra(module, f"refine {name.lower()!r}"), attr)


# Learned methods, imported on first use.
register_method("cairn", "rescale.models.cairn:load")
register_method("espcn", "rescale.models.espcn:load")
register_method("irn", "rescale.models.irn:load")
register_method("iarn", "rescale.models.iarn:load")
register_method("muller", "rescale.models.muller:load")
register_method("screentone", "rescale.screentone.retarget:load")
