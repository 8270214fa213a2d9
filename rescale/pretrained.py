"""Loading shipped weights: safetensors (no pickled code) plus a JSON manifest per file."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["weights_dir", "load_state_dict", "load_manifest", "available_weights"]


def weights_dir() -> Path:
    """The folder holding the shipped ``*.safetensors`` and their ``*.json`` manifests."""
    return Path(str(resources.files("rescale.weights")))


def available_weights() -> list[str]:
    return sorted(p.stem for p in weights_dir().glob("*.safetensors"))


def _path(name: str, suffix: str) -> Path:
    p = Path(name)
    if p.suffix == ".safetensors" or p.exists():  # a user's own file
        return p.with_suffix(suffix)
    return weights_dir() / f"{name}{suffix}"


def load_state_dict(name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Tensors of the shipped weights ``name`` (or of a path to a ``.safetensors`` file)."""
    from safetensors.torch import load_file

    path = _path(name, ".safetensors")
    if not path.exists():
        have = ", ".join(available_weights()) or "none"
        raise FileNotFoundError(f"no weights {name!r} at {path}; shipped weights: {have}")
    return load_file(str(path), device=str(device))


def load_manifest(name: str) -> dict:
    """The manifest of ``name``: how the weights were made and what they measure."""
    path = _path(name, ".json")
    if not path.exists():
        raise FileNotFoundError(f"no manifest for weights {name!r} at {path}")
    return json.loads(path.read_text())
