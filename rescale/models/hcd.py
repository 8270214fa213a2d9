"""Test-time refinement of a downscaled image for its own upscaler: HCD (Xu, Guo et al., ICCV 2023).

``rescale.down(img, 2, method="irn", refine="hcd")`` ends here (:data:`rescale.methods.REFINERS`). The upscaler is
frozen; the LR image is optimised so that the method's ``up`` rebuilds the HR image better:

1. HR stage: a perturbation ``delta`` of the HR image, ``hr_steps`` normalised-gradient steps on
   ``MSE(up(Q(down(x + delta))), x)``, projected to an L2 ball (``Q``: 8-bit rounding with a
   straight-through gradient, when the LR will be saved as 8 bit);
2. LR stage: from ``X = Q(down(x + delta))``, ``lr_steps`` steps on a perturbation of ``X`` itself
   against ``MSE(up(Q(X + d)), x)``.

Differences from the released code (``xubingna/HCD``), for an 8-bit LR that must survive saving: the
budgets are root-mean-square per value (``eps * sqrt(numel)`` in L2), not a fixed L2 norm that
vanishes below half a level on large images; the LR stage has ``Q`` in its loop; the start is
deterministic (``delta = 0``); the target is the original HR; and the result is never worse than
the plain LR (the candidates are compared and the best kept).

Interface it needs from a :class:`rescale.methods.Method`: ``down(x, size)`` and ``up(lr, size)`` on
float ``[N, C, H, W]`` tensors that are differentiable with respect to their input (autograd) and
deterministic (IRN with ``z = 0``). The cost is about ``3 * (hr_steps + lr_steps)`` passes of
down + up, with the activations of one down + up held for the backward: large images need
a lot of memory (no tiling here yet).
"""

from __future__ import annotations

import torch

__all__ = ["hcd"]


def _q(x: torch.Tensor) -> torch.Tensor:
    """8-bit rounding with an identity gradient."""
    q = (x.detach().clamp(0, 1) * 255).round() / 255
    return x + (q - x.detach())


def _normalise(g: torch.Tensor) -> torch.Tensor:
    """``g`` rescaled per sample to unit RMS."""
    rms = g.flatten(1).square().mean(1).sqrt().clamp_min(1e-12)
    return g / rms.view(-1, *[1] * (g.dim() - 1))


def _project(d: torch.Tensor, eps: float) -> torch.Tensor:
    """``d`` shrunk per sample to RMS at most ``eps`` (the L2 ball of radius ``eps * sqrt(numel)``)."""
    rms = d.flatten(1).square().mean(1).sqrt()
    return d * (eps / rms.clamp_min(eps)).view(-1, *[1] * (d.dim() - 1))


def _descend(errors_of, start: torch.Tensor, steps: int, eps: float, alpha: float, low: torch.Tensor) -> torch.Tensor:
    """Projected normalised gradient descent on a perturbation of ``low`` (kept inside [0, 1]);
    ``errors_of`` gives per-image errors ``[N]``. Returns, per image, the best iterate seen."""
    d, best, best_err = start, start.clone(), None
    for i in range(steps + 1):
        d = d.detach().requires_grad_(True)
        err = errors_of(low + d)
        with torch.no_grad():
            better = torch.ones_like(err, dtype=torch.bool) if best_err is None else err < best_err
            best[better] = d.detach()[better]
            best_err = err.detach() if best_err is None else torch.minimum(err.detach(), best_err)
        if i == steps:
            break
        (g,) = torch.autograd.grad(err.sum(), d)
        d = _project(d.detach() - alpha * _normalise(g), eps)
        d = (low + d).clamp(0, 1) - low
    return best


def hcd(
    method,
    x: torch.Tensor,
    lr: torch.Tensor,
    *,
    quantize: bool = True,
    hr_steps: int = 10,
    lr_steps: int = 10,
    hr_eps: float = 1 / 255,
    lr_eps: float = 0.5 / 255,
    hr_alpha: float = 0.25 / 255,
    lr_alpha: float = 0.125 / 255,
) -> torch.Tensor:
    """HCD: ``x`` ``[N, C, H, W]`` in ``[0, 1]`` -> the refined LR ``[N, C, h, w]`` (8-bit levels if
    ``quantize``). ``lr`` is the method's plain LR ``method.down(x)`` (it also fixes the LR size).
    ``*_eps`` are RMS budgets of the perturbations, ``*_alpha`` RMS step sizes, in [0, 1] units."""
    if x.dim() != 4:
        raise ValueError(f"expected x of shape [N, C, H, W], got {tuple(x.shape)}")
    hr_size = (x.shape[-1], x.shape[-2])
    x = x.detach().float()
    lr_size = (lr.shape[-1], lr.shape[-2])
    q = _q if quantize else (lambda t: t)

    def errors(low: torch.Tensor) -> torch.Tensor:  # [N]: per-image MSE of the rebuilt HR
        return (method.up(q(low), hr_size) - x).square().flatten(1).mean(1)

    with torch.enable_grad():
        delta = _descend(lambda y: errors(method.down(y, lr_size)), torch.zeros_like(x), hr_steps, hr_eps, hr_alpha, x)
        with torch.no_grad():
            start = method.down(x + delta, lr_size)
            start = q(start) if quantize else start
        d = _descend(errors, torch.zeros_like(start), lr_steps, lr_eps, lr_alpha, start)
    with torch.no_grad():  # per image, the best of: plain LR, after the HR stage, after both
        candidates = torch.stack([q(lr.detach().float()), start, q(start + d)])
        best = torch.stack([errors(c) for c in candidates]).argmin(0)
    return candidates[best, torch.arange(x.shape[0])]
