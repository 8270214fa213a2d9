"""The plain install (no extra) in a fresh virtual environment: numpy arrays, PIL images and files
are rescaled with every filter, through the API and the CLI, bit-exact with Pillow where Pillow has
the filter (with the development environment's results for the others), and torch is never imported.

The package is built as a wheel from this checkout; pip installs it and its dependencies into a new
venv. The dependencies' wheels are kept in a wheelhouse (``$RESCALE_TEST_WHEELS``, default
``~/.cache/rescalekit-test-wheels``), filled from the package index on the first run, so later runs
work offline and take seconds; the test skips, saying why, when the wheelhouse lacks a dependency
and pip cannot reach an index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rescale

from helpers import noise_u8, rng_for, with_alpha_u8

ROOT = Path(__file__).resolve().parents[2]
WHEELS = Path(os.environ.get("RESCALE_TEST_WHEELS", Path.home() / ".cache" / "rescalekit-test-wheels"))
PILLOW = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5}


def pip(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new venv holding the wheel of this checkout and its dependencies, nothing else."""
    tmp = tmp_path_factory.mktemp("plain")
    built = pip("wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(ROOT))  # setuptools from the index
    if built.returncode != 0 and "No matching distribution found for setuptools" in built.stderr:
        pytest.skip(f"pip could not fetch setuptools to build the wheel: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr
    wheel = next((tmp / "dist").glob("rescalekit-*.whl"))
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    offline = ("--python", str(python), "install", "-q", "--no-index", "--find-links", str(WHEELS), str(wheel))
    done = pip(*offline)
    if done.returncode != 0:  # first run, or new dependencies: fill the wheelhouse from the index
        fetched = pip("download", "-q", "--only-binary", ":all:", "--dest", str(WHEELS), str(wheel))
        if fetched.returncode != 0:
            pytest.skip(f"pip could not fetch the dependencies into {WHEELS}: {fetched.stderr.strip()[-300:]}")
        for ours in WHEELS.glob("rescalekit-*.whl"):  # pip download copies the wheel itself too
            ours.unlink()
        done = pip(*offline)
    assert done.returncode == 0, done.stderr
    return env


SCRIPT = r"""
import importlib.util, json, subprocess, sys, time
from pathlib import Path

import numpy as np
from PIL import Image

assert importlib.util.find_spec("torch") is None, "the plain venv has torch"
import rescale

case = json.loads(sys.argv[1])
work = Path(case["work"])
arr = np.load(work / "rgba.npy")
rgb = np.ascontiguousarray(arr[..., :3])
expected = np.load(work / "expected.npz")
report = {}
for method in case["methods"]:
    for name, image in (("rgb", rgb), ("rgba", arr)):
        want = expected[f"{method}-{name}"]
        for backend in ("auto", "cpu"):
            got = rescale.rescale(image, 0.6, 1.3, method=method, backend=backend)
            assert np.array_equal(got, want), (method, name, backend, "numpy")
        got = rescale.rescale(Image.fromarray(image), 0.6, 1.3, method=method)
        assert np.array_equal(np.asarray(got), want), (method, name, "PIL")
    out = work / f"out-{method}.png"
    t = time.perf_counter()
    cli = subprocess.run(
        [case["cli"], "resize", str(work / "in.png"), "-o", str(out), "--scale", "0.6x1.3", "--method", method, "-q"],
        capture_output=True, text=True,
    )
    assert cli.returncode == 0, cli.stderr
    report[f"cli {method} s"] = round(time.perf_counter() - t, 3)
    assert np.array_equal(np.asarray(Image.open(out)), expected[f"{method}-rgb"]), (method, "file")
assert "torch" not in sys.modules and "torchvision" not in sys.modules
print(json.dumps(report))
"""


def test_plain_install_rescales_without_torch(venv, tmp_path):
    rng = rng_for("plain install")
    arr = with_alpha_u8(rng, 45, 160, 3)  # rows of 96 and 128 bytes: the SIMD kernels run
    arr[..., :3] = noise_u8(rng, 45, 160, 3)
    np.save(tmp_path / "rgba.npy", arr)
    rgb = np.ascontiguousarray(arr[..., :3])
    Image.fromarray(rgb).save(tmp_path / "in.png")
    methods = rescale.filters.available()
    expected = {}
    for method in methods:
        for name, image in (("rgb", rgb), ("rgba", arr)):
            img = Image.fromarray(image)
            size = rescale.output_size(img.width, img.height, 0.6, 1.3)
            if method in PILLOW:  # Pillow itself, where it has the filter
                expected[f"{method}-{name}"] = np.asarray(img.resize(size, PILLOW[method]))
            else:  # else this environment's result (torch reference backend)
                expected[f"{method}-{name}"] = rescale.rescale(image, 0.6, 1.3, method=method, backend="torch")
    np.savez(tmp_path / "expected.npz", **expected)
    case = {"work": str(tmp_path), "methods": methods, "cli": str(venv / "bin" / "rescale")}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SCRIPT, json.dumps(case)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # not the checkout: the installed package is what runs
    )
    assert done.returncode == 0, done.stderr[-3000:]
