"""``rescale eval --engine ray``: the evaluation protocol with one Ray task per image.

Each task scores its images with :func:`rescale.eval.protocol.score_sample`, exactly as the local
engine does; the results come back in the local engine's order. Ray is an optional extra
(``pip install 'rescalekit[ray]'``), imported only inside these functions.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from ..batch.ray import connect, dataset
from . import metrics
from .datasets import ImageFolder, Sample, load_rgb, resolve_set
from .protocol import LOSSLESS, Storage, collect_sets, prepare_method, score_sample

__all__ = ["evaluate_on_ray", "score_batch", "EVAL_TASKS_PER_GPU"]

#: Evaluation tasks sharing one GPU (scoring is mostly CPU work).
EVAL_TASKS_PER_GPU = 4


def score_batch(batch, method: str, device: str, storages: list, report_images: int, lpips_weights: str | None):
    """Ray task body of ``rescale eval``: score each ``{"scale", "set", "index", "folder", "path",
    "sx", "sy"}`` row with :func:`rescale.eval.protocol.score_sample` for every storage (``(codec,
    quality)`` pairs); the method (and LPIPS) are loaded once per worker process."""
    import pyarrow as pa
    import torch

    m, bicubic, lpips = _eval_tools(method, device, lpips_weights)
    storages = [Storage(*st) for st in storages]
    out = []
    with torch.inference_mode():
        for i in range(len(batch["path"])):
            key = tuple(int(batch[c][i]) for c in ("scale", "set", "index"))
            folder, path = str(batch["folder"][i]), str(batch["path"][i])
            sample = Sample(Path(path).relative_to(folder).as_posix(), *load_rgb(path))
            scored = score_sample(
                m,
                bicubic,
                sample,
                float(batch["sx"][i]),
                float(batch["sy"][i]),
                storages=storages,
                device=device,
                lpips=lpips,
                with_bicubic=report_images > 0,
                keep=key[2] < report_images,
            )
            out.append(pickle.dumps((key, scored)))
    return pa.table({"scored": pa.array(out, pa.binary())})


_EVAL_TOOLS: dict = {}


def _eval_tools(method: str, device: str, lpips_weights: str | None):
    """(method, bicubic, lpips scorer or None), built once per worker process."""
    key = (method, device, lpips_weights)
    if key not in _EVAL_TOOLS:
        try:
            lpips = metrics.load_lpips(weights=lpips_weights, device=device)
        except metrics.LpipsUnavailable:
            lpips = None
        _EVAL_TOOLS[key] = (prepare_method(method, device), prepare_method("bicubic"), lpips)
    return _EVAL_TOOLS[key]


def evaluate_on_ray(
    method: str,
    sets: list[str],
    scales: list[tuple[float, float]],
    *,
    data=None,
    storages=(LOSSLESS,),
    limit: int | None = None,
    device: str = "auto",
    lpips_weights=None,
    report_images: int = 0,
    log=None,
    address: str | None = None,
    workers: int | None = None,
):
    """:func:`rescale.eval.protocol.evaluate` with one Ray task per image (same results, same order).

    ``device``: ``"auto"`` uses the cluster's GPUs when it has any (shared by
    :data:`EVAL_TASKS_PER_GPU` tasks each), else ``"cpu"`` / ``"cuda"``. ``method`` is a name: the
    workers build it themselves. LPIPS is scored when the workers find its weights.
    """
    folders = [(name, ImageFolder(resolve_set(name, data), limit=limit)) for name in sets]
    rows = [
        {"scale": si, "set": fi, "index": i, "folder": str(folder.folder), "path": str(path), "sx": sx, "sy": sy}
        for si, (sx, sy) in enumerate(scales)
        for fi, (_, folder) in enumerate(folders)
        for i, path in enumerate(folder.files)
    ]
    scored = {}
    with connect(address) as ray:
        gpus = ray.cluster_resources().get("GPU", 0)
        if device == "auto":
            device = "cuda" if gpus else "cpu"
        need = {"num_gpus": 1 / EVAL_TASKS_PER_GPU} if device.startswith("cuda") else {"num_cpus": 1}
        extra = {"concurrency": workers} if workers else {}
        ds = dataset(ray, rows).map_batches(
            score_batch,
            batch_size=None,
            fn_kwargs={
                "method": method,
                "device": device,
                "storages": [(st.codec, st.quality) for st in storages],
                "report_images": report_images,
                "lpips_weights": None if lpips_weights is None else str(lpips_weights),
            },
            **need,
            **extra,
        )
        for row in ds.iter_rows():
            key, per_storage = pickle.loads(row["scored"])
            scored[key] = per_storage
    return [
        res
        for si, (sx, sy) in enumerate(scales)
        for fi, (name, folder) in enumerate(folders)
        for res in collect_sets(name, (sx, sy), storages, (scored[(si, fi, i)] for i in range(len(folder))), log)
    ]
