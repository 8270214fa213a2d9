"""``Rescale``: the pipeline stage, a torchvision v2 transform over :func:`rescale.rescale`.

>>> from torchvision.transforms import v2
>>> train_tf = v2.Compose([v2.PILToTensor(), Rescale(0.5, method="lanczos"), v2.ToDtype(torch.float32, scale=True)])
>>> img, label = train_tf(pil_img, label)       # labels and other non-image inputs pass through

On a DataLoader it runs in the workers (it pickles), or on the GPU on whole batches:
``Rescale(0.5)(images.cuda())`` with ``images`` of shape ``[N, C, H, W]``.
"""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from .api import output_size, rescale
from .filters import Filter, get_filter

__all__ = ["Rescale"]


class Rescale(v2.Transform):
    """Rescale images by ``sx`` horizontally and ``sy`` vertically, or to ``size=(width, height)``.

    Args:
        sx, sy: positive scale factors (``sy`` defaults to ``sx``); the output is
            ``round(in * s)`` pixels per axis (:func:`rescale.output_size`).
        size: ``(width, height)`` of the output instead of a scale (Pillow's order, not torch's).
        method: a registered method name (``rescale.filters.available()``, learned ones too) or a
            :class:`rescale.filters.Filter`.
        antialias, edge, backend, alpha, linear: as :func:`rescale.rescale` (``linear=True``:
            resample in linear light).

    Inputs: PIL images (L, LA, RGB, RGBA, I;16, F), tensors ``[..., C, H, W]`` (uint8, float16,
    bfloat16, float32, float64; CPU or CUDA; leading dimensions are flattened into one batch),
    ``tv_tensors.Image`` and ``tv_tensors.Video`` (which stay so). Each comes back of the same kind,
    dtype and device. Bounding boxes, masks and key points are refused rather than passed through
    unscaled. Inside a v2 pipeline, torchvision's rule picks what is an image: with no explicit
    image in the sample, only the first plain tensor is rescaled.
    """

    def __init__(
        self,
        sx: float | None = None,
        sy: float | None = None,
        *,
        size: tuple[int, int] | None = None,
        method: str | Filter = "bicubic",
        antialias: bool = True,
        edge: str = "renormalize",
        backend: str = "auto",
        alpha: bool | None = None,
        linear: bool = False,
    ):
        super().__init__()
        if (sx is None) == (size is None):
            raise TypeError("give a scale (sx, sy) or size=(width, height), not both or neither")
        if sx is not None:
            output_size(1, 1, sx, sy)  # validates the factors
        else:
            if sy is not None:
                raise TypeError("sy goes with sx, not with size")
            size = _check_size(size)
        if isinstance(method, str):
            from .methods import is_method

            if not is_method(method):
                get_filter(method)  # unknown names fail here, not in a DataLoader worker
        elif not isinstance(method, Filter):
            raise TypeError(f"method must be a name or a rescale.filters.Filter, got {type(method).__name__}")
        self.sx, self.sy, self.size = sx, sy, size
        self.method, self.antialias, self.edge, self.backend, self.alpha = method, antialias, edge, backend, alpha
        self.linear = linear

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask, *_KEYPOINTS)):
            raise TypeError(
                f"Rescale resamples images only, not {type(inpt).__name__}; use torchvision's v2.Resize for those"
            )
        if isinstance(inpt, PIL.Image.Image):
            return self._rescale(inpt)
        if not isinstance(inpt, torch.Tensor):
            return inpt
        x = inpt.as_subclass(torch.Tensor)
        if x.dim() > 4:  # e.g. videos [..., T, C, H, W]: one batch
            y = self._rescale(x.flatten(0, -4)).unflatten(0, x.shape[:-3])
        else:
            y = self._rescale(x)
        return tv_tensors.wrap(y, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else y

    def _rescale(self, x):
        kw = dict(method=self.method, antialias=self.antialias, edge=self.edge, backend=self.backend, alpha=self.alpha)
        kw["linear"] = getattr(self, "linear", False)  # transforms pickled before it existed
        if self.size is not None:
            return rescale(x, size=self.size, **kw)
        return rescale(x, self.sx, self.sy, **kw)

    def extra_repr(self) -> str:
        scale = (
            f"size={self.size}"
            if self.size is not None
            else f"sx={self.sx}" + (f", sy={self.sy}" if self.sy is not None else "")
        )
        method = self.method if isinstance(self.method, str) else repr(self.method)
        return f"{scale}, method={method}, antialias={self.antialias}" + (", linear=True" if self.linear else "")


_KEYPOINTS = tuple(t for t in (getattr(tv_tensors, "KeyPoints", None),) if t is not None)


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = size
    except (TypeError, ValueError):
        raise TypeError(f"size must be (width, height), got {size!r}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (w, h)):
        raise ValueError(f"size must be two positive integers (width, height), got {size!r}")
    return int(w), int(h)
