"""Without a GPU, run the Triton kernels in Triton's interpreter (on the CPU). TRITON_INTERPRET must
be set before any module defining a Triton kernel is imported, so it is set here, first."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
