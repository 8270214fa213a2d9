"""What every training run shares: a run folder with resumable checkpoints, a JSON-lines log
(the learning curve), and the export of final weights to ``weights/`` with a manifest."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

__all__ = ["RunDir", "command_line", "export_weights", "hardware"]


def hardware() -> str:
    """A short description of the machine, for manifests."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} CPU threads"


def command_line(trainer: str) -> str:
    """How this run was started, for the manifest: ``python -m rescale.train`` or ``python -m
    rescale.train.<trainer>`` and the arguments, shell-quoted."""
    script = Path(sys.argv[0])
    prog = {"__main__.py": "python -m rescale.train", f"{trainer}.py": f"python -m rescale.train.{trainer}"}.get(
        script.name, sys.argv[0]
    )
    return " ".join([prog] + [shlex.quote(a) for a in sys.argv[1:]])


class RunDir:
    """A training run's folder: ``ckpt.pt`` (latest state, written atomically), ``log.jsonl``.

    ``ckpt.pt`` is a training checkpoint (model, optimizer, step, elapsed seconds) for resuming our
    own runs; released weights go through :func:`export_weights` as safetensors instead.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.ckpt = self.path / "ckpt.pt"
        self.log_path = self.path / "log.jsonl"

    def save(self, state: dict) -> None:
        tmp = self.ckpt.with_suffix(".pt.tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt)  # a run killed mid-save keeps the previous checkpoint

    def load(self, map_location="cpu") -> dict | None:
        if not self.ckpt.exists():
            return None
        return torch.load(self.ckpt, map_location=map_location, weights_only=False)

    def log(self, **record) -> None:
        record.setdefault("time", time.time())
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def history(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


def export_weights(model: torch.nn.Module, path, manifest: dict) -> Path:
    """Write ``path.safetensors`` (the model's tensors) and ``path.json`` (the manifest).

    The manifest should hold: architecture (with its constructor arguments), command, data, steps,
    wall time, hardware, metrics (each with the command that measured it).
    """
    from safetensors.torch import save_file

    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    manifest = {"python": sys.version.split()[0], "torch": torch.__version__, **manifest}
    tmp = path.with_suffix(".safetensors.tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path.with_suffix(".safetensors"))
    path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return path.with_suffix(".safetensors")
