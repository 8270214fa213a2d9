"""The Ray engine (rescale/batch/ray.py and rescale/eval/ray.py, ``--engine ray``) against the local engine on the same
inputs: same exit code, same per-file results, the same files byte for byte; plus a learned method
on the actor path, a worker killed mid-write, and ``rescale eval --engine ray``.

One local Ray instance (2 CPUs) is shared by the module. Its workers run :func:`_arm_killer` at
start-up: a worker about to rename a finished output named :data:`VICTIM` into place kills itself
instead, once (a marker file says it happened), leaving its temporary file behind.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

import rescale
from rescale.batch.atomic import TEMP_PREFIX
from rescale.cli import main

from helpers import _missing

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning:ray.data.context"
)  # Ray's own, on copying its DataContext
_RAY_MISSING = _missing("ray.data")
needs_ray = pytest.mark.skipif(
    _RAY_MISSING is not None, reason=f"the Ray engine needs Ray Data: {_RAY_MISSING} (pip install 'rescalekit[ray]')"
)

VICTIM = "victim.png"
KILL_MARKER_ENV = "RESCALE_TEST_KILL_MARKER"


def _arm_killer():
    """Ray worker set-up hook (see the module docstring)."""
    import os
    import signal

    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        marker = os.environ.get(KILL_MARKER_ENV)
        if marker and os.path.basename(os.fspath(dst)) == VICTIM:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, f"{os.getpid()} {os.fspath(src)}".encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    import ray
    import ray.cloudpickle

    if ray.is_initialized():
        pytest.skip("a Ray connection is already open in this process")
    marker = tmp_path_factory.mktemp("kill") / "killed"
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"worker_process_setup_hook": _arm_killer, "env_vars": {KILL_MARKER_ENV: str(marker)}},
    )
    try:
        yield marker
    finally:
        ray.shutdown()


# --- inputs ---------------------------------------------------------------------------------------


def _noise(rng, h, w, c=None):
    shape = (h, w) if c is None else (h, w, c)
    ramp = np.linspace(0, 200, w)[None, :] if c is None else np.linspace(0, 200, w)[None, :, None]
    return np.clip(ramp + rng.integers(0, 55, shape), 0, 255).astype(np.uint8)


def _mixed_folder(root: Path) -> Path:
    """Good files of several modes (EXIF orientation, ICC, DPI, 16-bit, alpha, a subfolder) and
    two broken ones."""
    rng = np.random.default_rng(3)
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(_noise(rng, 23, 37, 3)).save(src / "rgb.png")
    Image.fromarray(_noise(rng, 30, 40, 4)).save(src / "alpha.png")
    Image.fromarray(rng.integers(0, 65536, (21, 34)).astype(np.uint16)).save(src / "depth16.png", dpi=(150, 150))
    Image.fromarray(_noise(rng, 16, 18)).save(src / "sub" / "grey.png")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_noise(rng, 40, 60, 3)).save(
        src / "rotated.jpg", quality=95, exif=exif.tobytes(), icc_profile=srgb, dpi=(300, 300)
    )
    buf = io.BytesIO()
    Image.fromarray(_noise(rng, 48, 64, 3)).save(buf, "JPEG")
    (src / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(300))
    return src


def _resize(capsys, src: Path, out: Path, *args: str) -> tuple[int, list[dict], dict, str]:
    """``rescale resize SRC -o OUT -r --json ARGS``: exit code, per-file records without their
    timing (sorted by input), the summary counts, stderr."""
    code = main(["resize", str(src), "-o", str(out), "-r", "--json", *args])
    stdout, stderr = capsys.readouterr()
    lines = [json.loads(line) for line in stdout.splitlines()]
    summary = lines.pop()["summary"]
    for r in lines:
        r.pop("seconds")
    counts = {k: summary[k] for k in ("done", "skipped", "failed", "planned")}
    return code, sorted(lines, key=lambda r: r["input"]), counts, stderr


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden ones too, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_records(local: list[dict], ray: list[dict], local_out: Path, ray_out: Path) -> None:
    for a, b in zip(local, ray, strict=True):
        if a["output"]:
            a["output"] = os.path.relpath(a["output"], local_out)
            b["output"] = os.path.relpath(b["output"], ray_out)
    assert ray == local


# --- tests ----------------------------------------------------------------------------------------


@needs_ray
def test_mixed_folder_same_as_local_engine(ray_cluster, tmp_path, capsys):
    src = _mixed_folder(tmp_path)
    local = _resize(capsys, src, tmp_path / "local", "--scale", "0.5", "--workers", "2")
    ray = _resize(capsys, src, tmp_path / "ray", "--scale", "0.5", "--engine", "ray")

    assert local[0] == ray[0] == 1  # two files failed
    assert local[2] == ray[2] == {"done": 5, "skipped": 0, "failed": 2, "planned": 0}
    _same_records(local[1], ray[1], tmp_path / "local", tmp_path / "ray")
    failed = {Path(r["input"]).name: r["error"] for r in ray[1] if r["status"] == "failed"}
    assert set(failed) == {"corrupt.png", "truncated.jpg"} and all(failed.values())

    # The same files, byte for byte (pixels, metadata, encoding), and nothing else (no temporaries).
    made = _files(tmp_path / "ray")
    assert sorted(made) == ["alpha.png", "depth16.png", "rgb.png", "rotated.jpg", "sub/grey.png"]
    assert made == _files(tmp_path / "local")
    # And right, independently of the local engine: bicubic is Pillow's to the bit.
    with Image.open(src / "rgb.png") as im, Image.open(tmp_path / "ray" / "rgb.png") as out:
        np.testing.assert_array_equal(np.asarray(out), np.asarray(im.resize((19, 12), Image.Resampling.BICUBIC)))
    with Image.open(tmp_path / "ray" / "rotated.jpg") as out:
        assert out.size == (20, 30) and out.getexif()[ExifTags.Base.Make] == "TestCam"


@needs_ray
def test_learned_method_on_actors_same_as_local_engine(ray_cluster, tmp_path, capsys):
    import ray.data

    from rescale.batch import Job, Options, Target
    from rescale.batch.ray import job_rows, resize_dataset

    rng = np.random.default_rng(5)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_noise(rng, 24, 32, 3)).save(src / "a.png")
    Image.fromarray(_noise(rng, 24, 32, 3)).save(src / "b.png")  # same size as a: one batch
    Image.fromarray(_noise(rng, 17, 23, 3)).save(src / "odd.png")
    Image.fromarray(_noise(rng, 20, 26)).save(src / "grey.png")

    # irn goes to actors (which load the weights once), filters to tasks.
    ds = ray.data.from_items(job_rows([Job(src / "a.png", tmp_path / "a.png", "png", "a.png")]))
    assert "LearnedResizer" in str(resize_dataset(ds, Options(Target(scale=(0.5, 0.5)), "irn")))
    assert "LearnedResizer" not in str(resize_dataset(ds, Options(Target(scale=(0.5, 0.5)), "lanczos")))

    local = _resize(capsys, src, tmp_path / "local", "--scale", "0.5", "--method", "irn", "--workers", "2")
    ray = _resize(capsys, src, tmp_path / "ray", "--scale", "0.5", "--method", "irn", "--engine", "ray")
    assert local[0] == ray[0] == 0
    assert ray[2]["done"] == 4
    _same_records(local[1], ray[1], tmp_path / "local", tmp_path / "ray")
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    # Independently: the API's IRN down direction on the same pixels.
    with Image.open(src / "odd.png") as im, Image.open(tmp_path / "ray" / "odd.png") as out:
        ref = rescale.down(np.asarray(im), size=(12, 9), method="irn")
        np.testing.assert_array_equal(np.asarray(out), ref)


@needs_ray
def test_actor_loads_the_weights_once(tmp_path, monkeypatch):
    """The actor class itself, in this process: one weights load for all its batches."""
    from rescale import methods
    from rescale.batch import Job, Options, Target
    from rescale.batch.ray import LearnedResizer, job_rows, result_from_row
    from rescale.models import irn

    methods.register_method("irn", "rescale.models.irn:load")  # registered afresh: nothing loaded yet in this process
    loads = []
    real_load = irn.load_model
    monkeypatch.setattr(irn, "load_model", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    rng = np.random.default_rng(11)
    jobs = []
    for i in range(3):
        Image.fromarray(_noise(rng, 16, 20, 3)).save(tmp_path / f"{i}.png")
        jobs.append(Job(tmp_path / f"{i}.png", tmp_path / "out" / f"{i}.png", "png", f"{i}.png"))
    actor = LearnedResizer(Options(Target(scale=(0.5, 0.5)), "irn"))
    batches = [{k: np.array([row[k]]) for k in row} for row in job_rows(jobs)]  # one job per call
    results = [result_from_row(row) for b in batches for row in actor(b).to_pylist()]
    assert [r.status for r in results] == ["done"] * 3
    assert loads == [("irn_x2",)]


@needs_ray
def test_worker_killed_mid_write_is_retried(ray_cluster, tmp_path, capsys):
    marker = ray_cluster
    rng = np.random.default_rng(7)
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png", VICTIM, "c.png", "d.png"):
        Image.fromarray(_noise(rng, 20, 30, 3)).save(src / name)

    ray = _resize(capsys, src, tmp_path / "ray", "--scale", "0.5", "--method", "lanczos", "--engine", "ray")
    # A worker did die holding the victim's finished temporary file, before renaming it.
    pid, temp = marker.read_text().split(" ", 1)
    assert Path(temp).name.startswith(TEMP_PREFIX) and Path(temp).parent == tmp_path / "ray"
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)

    local = _resize(capsys, src, tmp_path / "local", "--scale", "0.5", "--method", "lanczos", "--workers", "2")
    assert ray[0] == local[0] == 0 and ray[2]["done"] == 5
    _same_records(local[1], ray[1], tmp_path / "local", tmp_path / "ray")
    made = _files(tmp_path / "ray")
    assert sorted(made) == sorted(["a.png", "b.png", VICTIM, "c.png", "d.png"])  # its temporary file removed
    assert made == _files(tmp_path / "local")


@needs_ray
def test_eval_on_ray_same_table_as_local(ray_cluster, tmp_path, monkeypatch, capsys):
    import torch

    from rescale.eval.protocol import evaluate
    from rescale.eval.ray import evaluate_on_ray
    from rescale.eval.results import format_table

    monkeypatch.setenv("RESCALE_LPIPS_WEIGHTS", str(tmp_path / "no-weights"))
    rng = np.random.default_rng(9)
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    Image.fromarray(_noise(rng, 36, 44, 3)).save(tmp_path / "A" / "x.png")
    Image.fromarray(_noise(rng, 30, 26)).save(tmp_path / "A" / "grey.png")
    Image.fromarray(_noise(rng, 28, 40, 3)).save(tmp_path / "B" / "y.png")
    sets, scales = ["A", "B"], [(2.0, 2.0), (3.0, 3.0)]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray worker: the same float summation order
    try:
        local = evaluate("bicubic", sets, scales, data=tmp_path, report_images=1)
    finally:
        torch.set_num_threads(threads)
    ray = evaluate_on_ray("bicubic", sets, scales, data=tmp_path, report_images=1)

    assert [(r.set, r.scale) for r in ray] == [(r.set, r.scale) for r in local]
    strip = lambda t: "\n".join(line.rsplit("|", 2)[0] for line in t.splitlines())  # noqa: E731 - without s/img
    assert strip(format_table(ray)) == strip(format_table(local))
    for a, b in zip(local, ray):
        assert [{k: v for k, v in im.items() if k != "seconds"} for im in b.images] == [
            {k: v for k, v in im.items() if k != "seconds"} for im in a.images
        ]
        assert [s["name"] for s in b.samples] == [s["name"] for s in a.samples]
        for sa, sb in zip(a.samples, b.samples):
            assert all(torch.equal(sa[k], sb[k]) for k in ("hr", "bicubic", "method"))

    # The command line prints the same table.
    assert (
        main(
            ["eval", "--engine", "ray", "--method", "bicubic", "--scale", "2", "--data", str(tmp_path), "--sets", "A,B"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert strip(printed.split("\n\nLPIPS")[0]) == strip(format_table(local[:2]))


def test_without_ray_a_clear_error(tmp_path, monkeypatch, capsys):
    """Ray stays optional: without it, --engine ray says how to install it; the rest works."""
    from rescale.batch.ray import RayUnavailable, require_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(RayUnavailable, match=r"pip install 'rescalekit\[ray\]'"):
        require_ray()
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    assert (
        main(["resize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--scale", "0.5", "--engine", "ray"]) == 2
    )
    assert "pip install 'rescalekit[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["eval", "--engine", "ray", "--sets", str(tmp_path)]) == 2
    assert "pip install 'rescalekit[ray]'" in capsys.readouterr().err
    assert (
        main(["resize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--scale", "0.5", "--address", "auto"])
        == 2
    )
    assert "--engine ray" in capsys.readouterr().err
    assert (
        main(
            [
                "resize",
                str(tmp_path / "a.png"),
                "-o",
                str(tmp_path / "out"),
                "--scale",
                "0.5",
                "--engine",
                "ray",
                "--device",
                "cuda",
            ]
        )
        == 2
    )
    assert "--device is for --engine local" in capsys.readouterr().err
    assert (
        main(["resize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--scale", "0.5", "--workers", "1"]) == 0
    )


def test_plain_install_never_imports_ray(tmp_path):
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    code = (
        "import sys, rescale, rescale.batch.ray, rescale.eval.ray\n"
        "from rescale.cli import main\n"
        f"assert main(['resize', {str(tmp_path / 'a.png')!r}, '-o', {str(tmp_path / 'out')!r}, "
        "'--scale', '0.5']) == 0\n"
        "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
