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

from .api import rescale
from .filters import Filter, get_filter
from .sizes import target_size

__all__ = ["Rescale"]


class Rescale(v2.Transform):
    """Rescale images by ``sx`` horizontally and ``sy`` vertically, or to ``size=(width, height)``,
    or to ``width=`` and/or ``height=``: the sizes of :func:`rescale.rescale` (``docs/conventions.md``).

    Args:
        sx, sy: positive scale factors (``sy`` defaults to ``sx``); the output is
            ``round(in * s)`` pixels per axis (:func:`rescale.output_size`).
        size: ``(width, height)`` of the output instead of a scale (Pillow's order, not torch's:
            ``v2.Resize((256, 200))`` is ``Rescale(size=(200, 256))``, or say it by name,
            ``Rescale(width=200, height=256)``).
        width, height: the output width and/or height; one alone keeps each image's aspect ratio.
        method: a registered method name (``rescale.filters.available()``, learned ones too), one of
            Pillow's constants (``Image.Resampling.LANCZOS``) or a :class:`rescale.filters.Filter`.
        antialias, edge, backend, alpha: as :func:`rescale.rescale`.

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
        width: int | None = None,
        height: int | None = None,
        method: str | int | Filter = "bicubic",
        antialias: bool = True,
        edge: str = "renormalize",
        backend: str = "auto",
        alpha: bool | None = None,
    ):
        super().__init__()
        self.want = {"sx": sx, "sy": sy, "size": size, "width": width, "height": height}
        target_size(1, 1, **self.want)  # one of them, valid: errors here, not in a DataLoader worker
        if size is not None:
            size = self.want["size"] = tuple(size)
        from .methods import is_method

        if not is_method(method):
            get_filter(method)  # unknown names and types fail here, not in a DataLoader worker
        self.sx, self.sy, self.size = sx, sy, size
        self.method, self.antialias, self.edge, self.backend, self.alpha = method, antialias, edge, backend, alpha

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
        return rescale(x, **self.want, **kw)

    def extra_repr(self) -> str:
        scale = ", ".join(f"{k}={v}" for k, v in self.want.items() if v is not None)
        method = self.method if isinstance(self.method, str) else repr(self.method)
        return f"{scale}, method={method}, antialias={self.antialias}"


_KEYPOINTS = tuple(t for t in (getattr(tv_tensors, "KeyPoints", None),) if t is not None)
