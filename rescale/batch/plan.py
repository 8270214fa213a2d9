"""Which files a batch command works on and where their outputs go.

- :class:`Target`: the output size rule (a scale, or a width and/or height with a fit), and
  whether it may enlarge;
- :func:`plan_jobs`: input files, folders and glob patterns -> :class:`Job` s whose outputs mirror
  the input tree under the output folder, refusing outputs that would overwrite an input or
  collide with each other, and glob matches that leave their pattern's folder (whose outputs would
  land outside the output folder); those come back as failed :class:`~rescale.batch.job.Result` s.
  The output folder's own files are never inputs (a rerun must not take its outputs for inputs),
  except where it is the input folder itself (``--in-place``). An output that cannot be a folder
  for several inputs (an existing file, a name with an image suffix) is a :class:`PlanError`;
- :func:`plan_stdio`: one image from stdin, or to stdout (the CLI's ``-``).
"""

from __future__ import annotations

import glob
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageFile

from ..api import output_size
from .files import KEEP_SUFFIXES, output_format
from .result import Result

__all__ = ["Target", "Job", "Plan", "PlanError", "plan_jobs", "plan_stdio", "FITS", "STDIN", "STDOUT"]

FITS = ("contain", "cover", "fill")


@dataclass(frozen=True)
class Target:
    """The output size rule: a ``scale`` ``(sx, sy)``, or a ``width`` and/or ``height``.

    With only one of width/height the other follows the aspect ratio. With both, ``fit`` decides:
    ``"contain"`` fits inside the box keeping the aspect ratio, ``"cover"`` fills the box keeping
    the aspect ratio and crops the overflow evenly from both sides, ``"fill"`` stretches to the box.

    ``enlarge=False`` (``--no-enlarge``) never makes an axis larger than the input's: a rule that
    keeps the aspect ratio (a scale, a width or a height, contain, cover) leaves an image it would
    enlarge at its own size (cover then crops it to the box where it is larger); ``fill`` and
    ``scale=(sx, sy)`` clamp each axis on its own.

    >>> Target(width=256, height=256, fit="cover", enlarge=False).plan(1, 1)
    ((1, 1), None)
    >>> Target(width=256, height=256, fit="cover", enlarge=False).plan(300, 100)
    ((300, 100), (22, 0, 278, 100))
    """

    scale: tuple[float, float] | None = None
    width: int | None = None
    height: int | None = None
    fit: str = "contain"
    # Out of the repr: an in-place run's signature (rescale.batch.inplace) holds repr(target), and
    # marks written before this option must still match; the signature adds it when False.
    enlarge: bool = field(default=True, repr=False)

    def __post_init__(self):
        if (self.scale is None) == (self.width is None and self.height is None):
            raise ValueError("give either a scale or a width and/or height")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
        if self.scale is not None and not all(math.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError(f"scale factors must be positive and finite, got {self.scale}")
        for v, name in ((self.width, "width"), (self.height, "height")):
            if v is not None and v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v}")

    def plan(self, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
        """For an upright input of ``w x h``: the size to resample to and the crop box after it
        (``None`` unless ``fit="cover"``)."""
        (rw, rh), box = self._plan(w, h)
        if self.enlarge or (rw <= w and rh <= h):
            return (rw, rh), box
        if self.scale is not None:
            return output_size(w, h, min(self.scale[0], 1), min(self.scale[1], 1)), None
        if self.fit == "fill" and self.width is not None and self.height is not None:
            return (min(rw, w), min(rh, h)), None
        if box is None:
            return (w, h), None
        bw, bh = min(box[2] - box[0], w), min(box[3] - box[1], h)
        left, top = (w - bw) // 2, (h - bh) // 2
        return (w, h), None if (bw, bh) == (w, h) else (left, top, left + bw, top + bh)

    def _plan(self, w: int, h: int) -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
        if self.scale is not None:
            return output_size(w, h, *self.scale), None
        W, H = self.width, self.height
        if H is None:
            return (W, _round(h * W / w)), None
        if W is None:
            return (_round(w * H / h), H), None
        if self.fit == "fill":
            return (W, H), None
        # The limiting axis gets exactly its box size; the other follows the aspect ratio.
        width_limits = W * h <= H * w
        if self.fit == "contain":
            return ((W, min(H, _round(h * W / w))) if width_limits else (min(W, _round(w * H / h)), H)), None
        rw, rh = (max(W, _round(w * H / h)), H) if width_limits else (W, max(H, _round(h * W / w)))
        left, top = (rw - W) // 2, (rh - H) // 2
        return (rw, rh), (left, top, left + W, top + H)


def _round(v: float) -> int:
    return max(1, math.floor(v + 0.5))


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    fmt: str  # a key of rescale.batch.files.FORMATS
    name: str  # how the file is shown: its path relative to the input it came from
    in_place: bool = False  # dst is src: the output replaces its input (rescale.batch.inplace)
    data: bytes | None = field(default=None, repr=False, compare=False)  # the input's bytes (stdin)
    to_stdout: bool = False  # the output goes to stdout, not to dst

    def source(self) -> Path | BinaryIO:
        """What the input is read from: ``src``, or its bytes (stdin)."""
        return self.src if self.data is None else io.BytesIO(self.data)


#: How stdin and stdout are shown as a job's input and output (plan_stdio).
STDIN, STDOUT = "<stdin>", "<stdout>"


class PlanError(ValueError):
    """Inputs and an output that cannot go together (e.g. several inputs and an output file); the
    message says what to give instead."""


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    problems: list[Result] = field(default_factory=list)  # inputs refused before processing


def plan_jobs(
    inputs: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    *,
    fmt: str | None = None,
    recursive: bool = False,
    in_place: bool = False,
) -> Plan:
    """Jobs for ``inputs`` (files, folders, glob patterns) with outputs under the folder ``out``.

    A file goes to ``out/<its name>``; a folder's images (its subfolders' too with ``recursive``) to
    ``out/<path relative to the folder>``; a glob's matches to ``out/<path relative to the glob's
    fixed leading folders>`` (``photos/**/*.jpg`` mirrors ``photos``). When the only input is a file
    and ``out`` ends in an image suffix and is not a folder, ``out`` is the output file itself.
    The output keeps the input's format for PNG/JPEG/WebP/TIFF and is PNG for others, unless
    ``fmt`` names one. Hidden files and the output folder itself are never picked up from folders.
    """
    inputs = [os.fspath(p) for p in inputs]
    out = Path(out)
    out_real = _real(out) or Path(os.path.abspath(out))
    plan = Plan()
    sources: list[tuple[Path, Path]] = []  # (file, path relative to its input)
    for arg in inputs:
        p = Path(arg)
        if glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                plan.problems.append(Result(arg, arg, None, "failed", "no files match this pattern"))
            base = _glob_base(arg)
            # Inside an output folder below the pattern's folder are earlier outputs, not inputs.
            skip_out = _strictly_inside(out_real, _real(base))
            for m in map(Path, matches):
                rel = _relative(m, base)
                if rel is None:
                    why = f"this match is outside the pattern's folder {base} (a '..' in the pattern)"
                    plan.problems.append(Result(str(m), str(m), None, "failed", why))
                elif skip_out and _within(_real(m), out_real):
                    continue
                elif m.is_dir():
                    sources += [(f, rel / r) for f, r in _walk(m, recursive, out)]
                elif _is_image_name(m.name):
                    sources.append((m, rel))
        elif p.is_dir():
            sources += _walk(p, recursive, out)
        elif os.path.lexists(p):  # a file, or something else that says what it is when read
            sources.append((p, Path(p.name)))
        else:
            plan.problems.append(Result(arg, arg, None, "failed", "no such file or folder"))

    single_file = len(inputs) == 1 and len(sources) == 1 and Path(inputs[0]).is_file()
    to_file = single_file and out.suffix.lower() in KEEP_SUFFIXES and not out.is_dir()
    if not to_file and sources:
        _check_output_folder(out, inputs)
    seen_src: set[Path] = set()
    reals = {src: _real(src) for src, _ in sources}
    src_real = {r for r in reals.values() if r is not None}
    dst_owner: dict[Path, str] = {}
    for src, rel in sources:
        real, name = reals[src], rel.as_posix()
        if real is None:
            plan.problems.append(Result(name, str(src), None, "failed", "symbolic link loop (the link never ends)"))
            continue
        if real in seen_src:  # the same file named twice
            continue
        seen_src.add(real)
        if to_file:
            job_fmt, _ = output_format(out, fmt)
            dst = out
        else:
            job_fmt, suffix = output_format(src, fmt)
            dst = out / rel.with_suffix(suffix)
        dst_real = _real(dst) or Path(os.path.abspath(dst))
        if dst_real in src_real and not (in_place and dst_real == real):
            why = (
                "output would overwrite this input"
                if dst_real == real
                else f"output {dst} would overwrite another input"
            )
            hint = " (pass --in-place to replace inputs with their outputs)" if dst_real == real else ""
            plan.problems.append(Result(name, str(src), str(dst), "failed", why + hint))
        elif dst_real in dst_owner:
            plan.problems.append(
                Result(name, str(src), str(dst), "failed", f"output {dst} is also the output of {dst_owner[dst_real]}")
            )
        else:
            dst_owner[dst_real] = str(src)
            plan.jobs.append(Job(src, dst, job_fmt, name, in_place=dst_real == real))
    return plan


def _check_output_folder(out: Path, inputs: list[str]) -> None:
    """A :class:`PlanError` unless ``out`` can be the output folder of ``inputs``: it must not be
    a file, nor be inside one, nor (when it does not exist yet) look like a file name."""
    given = f"{len(inputs)} inputs" if len(inputs) > 1 else f"the input {inputs[0]}"
    for folder in (out, *out.parents):
        if os.path.exists(folder) and not os.path.isdir(folder):
            what = "is a file" if folder == out else f"is inside the file {folder}"
            raise PlanError(
                f"-o {out} {what}, but {given} need an output folder: give a folder (-o DIR), "
                "or one input file to write that file"
            )
    if not out.exists() and out.suffix.lower() in KEEP_SUFFIXES:
        raise PlanError(
            f"-o {out} looks like a file name, but {given} need an output folder: give a folder name "
            "without an image suffix (or create the folder first), or one input file"
        )


def plan_stdio(src: str, out: str, *, fmt: str | None = None, stdin: BinaryIO | None = None) -> Plan:
    """The one job of ``src`` -> ``out`` where either is ``"-"``: one image read from ``stdin`` (all
    of it) or written to stdout. The output format is ``fmt``, else the output file's suffix, else
    the input's format (for stdin: the format its bytes are in, PNG for others). A
    :class:`PlanError` for what cannot be one image in and one out.

    >>> plan_stdio("-", "-", stdin=io.BytesIO(b"GIF89a...")).jobs[0].fmt  # not a format kept: PNG
    'png'
    """
    if src == "-":
        data = (stdin or io.BytesIO()).read()
        if out == "-":
            job_fmt = fmt or _sniffed_format(data)
            dst = Path(STDOUT)
        elif Path(out).suffix.lower() in KEEP_SUFFIXES and not Path(out).is_dir():
            job_fmt, dst = output_format(Path(out), fmt)[0], Path(out)
        else:
            raise PlanError(f"with - (stdin) as the input, -o names the output file (e.g. out.png) or is -, not {out}")
        return Plan([Job(Path(STDIN), dst, job_fmt, STDIN, data=data, to_stdout=out == "-")])
    if glob.has_magic(src) or Path(src).is_dir():
        raise PlanError(f"-o - writes one image to stdout: give one image file, not {src}")
    job = Job(Path(src), Path(STDOUT), output_format(Path(src), fmt)[0], src, to_stdout=True)
    if not os.path.lexists(src):
        return Plan(problems=[Result(src, src, STDOUT, "failed", "no such file or folder")])
    return Plan([job])


def _sniffed_format(data: bytes) -> str:
    """The output format (a key of FORMATS) of an input given as bytes: its own when its first
    bytes are those of one of them, else PNG."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:3] == b"\xff\xd8\xff":
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "png"


def _real(path: Path) -> Path | None:
    """``path`` with every symbolic link resolved, or None for a link loop."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # RuntimeError before Python 3.13, OSError (ELOOP) after
        return None


def _relative(match: Path, base: Path) -> Path | None:
    """``match`` relative to ``base`` with ``.`` and ``..`` folded away; None if it leaves ``base``."""
    rel = os.path.relpath(os.path.normpath(match), os.path.normpath(base))
    return None if rel == ".." or rel.startswith(".." + os.sep) else Path(rel)


def _within(path: Path | None, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both absolute, as given)."""
    return path is not None and (path == folder or folder in path.parents)


def _strictly_inside(folder: Path, base: Path | None) -> bool:
    return base is not None and folder != base and base in folder.parents


def _glob_base(pattern: str) -> Path:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _walk(folder: Path, recursive: bool, out: Path) -> list[tuple[Path, Path]]:
    found = []
    out_real = _real(out)
    for root, dirs, files in os.walk(folder):
        root_p = Path(root)
        # Never descend into hidden folders or the output folder (a rerun must not eat its outputs).
        keep = [d for d in dirs if not d.startswith(".") and _real(root_p / d) != out_real]
        dirs[:] = sorted(keep) if recursive else []
        for name in sorted(files):
            if _is_image_name(name):
                f = root_p / name
                found.append((f, f.relative_to(folder)))
    return found


_IMAGE_SUFFIXES: set[str] | None = None
#: Suffixes of formats every Pillow build reads.
_COMMON_SUFFIXES = frozenset((".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp"))


def _is_image_name(name: str) -> bool:
    """Whether a file found in a folder is taken as an image: not hidden (our temporary files are
    hidden) and a suffix of a format Pillow decodes (not its stubs, nor EPS which needs
    Ghostscript, nor MPEG of which it reads only the header)."""
    global _IMAGE_SUFFIXES
    if name.startswith("."):
        return False
    suffix = os.path.splitext(name)[1].lower()
    if suffix in _COMMON_SUFFIXES:  # without Image.init(), which imports all of Pillow's plugins (60 ms)
        return True
    if _IMAGE_SUFFIXES is None:
        Image.init()
        readable = {
            f
            for f, (cls, _) in Image.OPEN.items()
            if not (isinstance(cls, type) and issubclass(cls, ImageFile.StubImageFile)) and f not in ("EPS", "MPEG")
        }
        _IMAGE_SUFFIXES = {ext for ext, f in Image.registered_extensions().items() if f in readable}
    return suffix in _IMAGE_SUFFIXES
