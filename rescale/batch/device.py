"""Batched resampling on a device (``rescale resize --device cuda``): threads of this process decode
and encode while same-size images are resampled together as one ``[N, C, H, W]`` tensor.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import budget
from .files import Metadata, decode, open_image, read_header
from .inplace import mark_text, signature
from .job import Options, failed, joined, linear_light, process_file, reason_of, resample_image, write_output
from .plan import Job
from .result import Result

__all__ = ["run_batched", "Batcher", "Decoded", "decode_job", "encode_job", "resample_batch", "BATCHED_MODES"]

#: Modes the batched (GPU) path resamples; the rest (16-bit) are done whole on a CPU thread, since
#: rescale() takes no uint16 tensors.
BATCHED_MODES = ("L", "LA", "RGB", "RGBA", "F")


@dataclass
class Decoded:
    """A decoded image waiting for its batch."""

    job: Job
    pixels: np.ndarray  # HxW or HxWxC, upright
    meta: Metadata
    converted: str | None
    rsize: tuple[int, int]
    box: tuple[int, int, int, int] | None
    seconds: float
    linear: object = False  # linear= of rescale.rescale for this file (job.linear_light)
    linear_note: str | None = None

    @property
    def key(self) -> tuple:
        """Images with the same key are resampled together (``--linear``: with the same curves)."""
        return self.pixels.shape, self.pixels.dtype.str, self.rsize, self.linear


def decode_job(job: Job, opts: Options) -> Decoded | Result:
    """Decoding thread of the batched path; 16-bit images, and down/up jobs (sizes and methods per
    file, records to write), are processed whole right here (on the CPU). A file whose job needs
    more than the whole memory budget fails before it is decoded (the memory of the images waiting
    for their batch is bounded by :class:`Batcher`)."""
    t0 = time.perf_counter()
    try:
        if opts.direction is not None:
            return process_file(job, opts)
        with open_image(job.source()) as im:
            head = read_header(im, opts.max_pixels)
            if head.mode in BATCHED_MODES:
                rsize, box = opts.target.plan(*head.size)
                budget.current(opts.max_memory).check(budget.estimate(head.size, rsize, head.mode), "this file")
                dec = decode(im)
        if head.mode not in BATCHED_MODES:
            return process_file(job, opts)
        linear = linear_light(opts, dec.meta.icc_profile)
        pixels = np.asarray(dec.image)
        return Decoded(job, pixels, dec.meta, dec.converted, rsize, box, time.perf_counter() - t0, *linear)
    except Exception as e:  # noqa: BLE001
        return failed(job, reason_of(e), seconds=time.perf_counter() - t0)


def encode_job(item: Decoded, pixels: np.ndarray, seconds: float, opts: Options) -> Result:
    """Encoding thread of the batched path: crop and write the resampled pixels."""
    t0 = time.perf_counter()
    size = item.pixels.shape[1], item.pixels.shape[0]
    try:
        img = Image.fromarray(pixels)
        if item.box is not None:
            img = img.crop(item.box)
        mark = mark_text(signature(opts, item.job.fmt), img.size) if item.job.in_place else None
        written = write_output(img, item.job, item.meta, opts, mark=mark)
    except Exception as e:  # noqa: BLE001
        return failed(item.job, reason_of(e), size=size)
    job = item.job
    return Result(
        job.name,
        str(job.src),
        str(job.dst),
        "done",
        None,
        size,
        written.size,
        written.mode,
        joined(item.converted, written.converted),
        seconds + time.perf_counter() - t0,
        note=joined(item.linear_note, written.note),
    )


def resample_batch(items: list[Decoded], opts: Options, device: str) -> list[np.ndarray]:
    """Resample same-key images as one ``[N, C, H, W]`` tensor on ``device``; HxW(xC) arrays back."""
    import torch

    stacked = np.stack([it.pixels for it in items])  # N x H x W (x C)
    if stacked.ndim == 3:
        stacked = stacked[..., None]
    x = torch.from_numpy(stacked).permute(0, 3, 1, 2).to(device)  # channels-last NCHW, no copy on CPU
    y = resample_image(x, items[0].rsize, opts, items[0].linear)
    out = y.permute(0, 2, 3, 1).cpu().numpy()
    return [o[..., 0] if o.shape[-1] == 1 else o for o in out]


class Batcher:
    """Groups items by key into batches of at most ``max_items`` items or ``max_bytes`` bytes.

    :meth:`add` returns the batches that became full; at most ``max_pending_bytes`` wait in total
    (the largest group is sent early when over), so a folder of all-different sizes neither waits
    for the end nor fills the memory; :meth:`flush` returns everything left.
    """

    def __init__(self, max_items: int = 16, max_bytes: int = 512 << 20, max_pending_bytes: int = 2 << 30):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items, self.max_bytes, self.max_pending_bytes = max_items, max_bytes, max_pending_bytes
        self._groups: dict = {}  # key -> (items, bytes), in insertion order
        self._bytes = 0

    def __len__(self) -> int:
        return sum(len(items) for items, _ in self._groups.values())

    def add(self, key, item, nbytes: int) -> list[list]:
        items, size = self._groups.get(key, ([], 0))
        items.append(item)
        self._groups[key] = (items, size + nbytes)
        self._bytes += nbytes
        ready = []
        if len(items) >= self.max_items or size + nbytes >= self.max_bytes:
            ready.append(self._pop(key))
        while self._bytes > self.max_pending_bytes and self._groups:
            ready.append(self._pop(max(self._groups, key=lambda k: self._groups[k][1])))
        return ready

    def flush(self) -> list[list]:
        return [self._pop(k) for k in list(self._groups)]

    def _pop(self, key) -> list:
        items, size = self._groups.pop(key)
        self._bytes -= size
        return items


def run_batched(jobs: list[Job], opts: Options, workers: int, device: str, batch_size: int) -> Iterator[Result]:
    # Decoding and encoding run on threads of this process: Pillow's codecs release the GIL, and
    # the pixels reach the device without being copied between processes (a pipe moved only about
    # 300 MB/s of decoded pixels, slower than the GPU path saves).
    pending = deque(jobs)
    batcher = Batcher(batch_size)
    decoding: dict = {}
    encoding: dict = {}
    pool = ThreadPoolExecutor(workers, thread_name_prefix="rescale-io")
    try:
        while pending or decoding or encoding or len(batcher):
            while pending and len(decoding) < 2 * workers + batch_size:  # bounds the decoded pixels held
                job = pending.popleft()
                decoding[pool.submit(decode_job, job, opts)] = job
            ready = []
            if decoding or encoding:
                for fut in wait([*decoding, *encoding], return_when=FIRST_COMPLETED)[0]:
                    (encoding if fut in encoding else decoding).pop(fut)
                    r = fut.result()  # decode_job and encode_job report failures as Results
                    if isinstance(r, Result):
                        yield r
                    else:
                        ready += batcher.add(r.key, r, r.pixels.nbytes)
            if not pending and not decoding:
                ready += batcher.flush()
            for batch in ready:
                t0 = time.perf_counter()
                try:
                    outs = resample_batch(batch, opts, device)
                except Exception as e:  # noqa: BLE001 - e.g. out of device memory: fail this batch only
                    for it in batch:
                        yield failed(it.job, reason_of(e), size=(it.pixels.shape[1], it.pixels.shape[0]))
                    continue
                share = (time.perf_counter() - t0) / len(batch)
                for it, pixels in zip(batch, outs):
                    encoding[pool.submit(encode_job, it, pixels, it.seconds + share, opts)] = it.job
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
