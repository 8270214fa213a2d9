"""Resampling kernels, installed as ``rescale.kernels``.

Every kernel resamples one axis of a 3-D view ``x[R, L, I]`` (rows, the resampled axis, an inner
run of contiguous values) with an :class:`rescale.tables.AxisTable`:
``out[r, o, i] = sum_k weight[o, k] * x[r, index[o, k], i]``.

- ``reference``: torch gathers; the readable definition, any device, differentiable by autograd.
- ``cpu``: the fast CPU twin (numba).
- ``triton``: the GPU kernels.

uint8 uses Pillow's fixed-point arithmetic (int32 weights with 22 fractional bits, round half up,
clamp), so all backends agree bit for bit. Float types accumulate in float32 (float64 for float64).
"""
