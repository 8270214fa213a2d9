"""Writing output files atomically, and removing what killed writers left behind.

:func:`atomic_write` takes an image encoded in memory, writes it to a hidden temporary file beside
the destination and renames it over the destination: a run killed at any moment leaves either the old
file, the complete new one, or a temporary file. Encoding in memory first also lets a full disk
surface as "no space left" rather than as Pillow's "encoder error -2".

When the destination exists (``--overwrite``, ``--in-place``) the new file is flushed to disk before
the rename, so that even a power cut cannot leave an empty file where the user's image was. A new
file is not flushed one by one (that fsync was 40% of a small file's time); a run flushes all its new
files at once at its end (:func:`flush_to_disk`), so they are on disk when the command returns.

A temporary file is named ``.rescale-tmp-<writer>-<pid>-<run>-<random>-<name>``:

- ``writer`` identifies the machine and the PID namespace of the writing process (a hash of the
  host name, the kernel's boot id and the PID namespace), so that a pid is only ever compared
  with pids of its own namespace: two containers, two NFS clients or two Ray nodes writing into
  one folder see different ``writer`` s;
- ``run`` identifies the batch run (:func:`new_run_id`), shared by all its worker processes.

:func:`clean_temp_files` removes a temporary file only when it is clearly abandoned: it belongs to
the given run (called when that run has finished, so none of its writers is left), or its writer
is in this namespace and no longer alive, or nobody has written to it for
:data:`STALE_TEMP_SECONDS` (a live writer touches its file continuously while it writes).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import socket
import time
from pathlib import Path

__all__ = [
    "TEMP_PREFIX",
    "STALE_TEMP_SECONDS",
    "DiskFull",
    "atomic_write",
    "clean_temp_files",
    "flush_to_disk",
    "new_run_id",
    "temp_path",
    "writer_id",
]

#: Temporary files are hidden and start with this.
TEMP_PREFIX = ".rescale-tmp-"
#: A temporary file nobody has written to for this long is abandoned, whoever wrote it. Long enough
#: for the clocks of NFS clients and servers to disagree by minutes.
STALE_TEMP_SECONDS = 3600
#: Longest file name most file systems take (bytes).
_NAME_MAX = 255

_WRITER: str | None = None


class DiskFull(OSError):
    """The destination's file system is full (or the user's quota is used up)."""


def writer_id() -> str:
    """8 hex digits naming this machine and PID namespace (the same in every process of both)."""
    global _WRITER
    if _WRITER is None:
        parts = [socket.gethostname()]
        for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
            with contextlib.suppress(OSError):
                parts.append(os.readlink(path) if path.endswith("/pid") else Path(path).read_text().strip())
        _WRITER = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    return _WRITER


def new_run_id() -> str:
    """A fresh id for one batch run (8 hex digits); its workers name their temporary files with it."""
    return secrets.token_hex(4)


def temp_path(dest: Path, run: str = "") -> Path:
    """The temporary file :func:`atomic_write` writes before renaming it to ``dest``."""
    head = f"{TEMP_PREFIX}{writer_id()}-{os.getpid()}-{run or '0'}-{secrets.token_hex(3)}-"
    name = dest.name
    room = _NAME_MAX - len(head.encode())
    if len(os.fsencode(name)) > room:  # keep the suffix: the name is only there for people looking
        name = os.fsdecode(os.fsencode(name)[-room:])
    return dest.with_name(head + name)


def atomic_write(data: bytes | memoryview, dest: Path, run: str = "") -> None:
    """The encoded file ``data`` written to ``dest`` atomically (see the module docstring);
    :class:`DiskFull` when the disk is full."""
    dest = Path(dest)
    tmp = temp_path(dest, run)
    try:
        replacing = dest.exists()
        with open(tmp, "xb") as f:
            f.write(data)
            if replacing:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                e.errno, f"no space left on the device of {dest.parent} (or the disk quota is used up)"
            ) from None
        raise


def flush_to_disk() -> None:
    """Write the files a run created from the page cache to disk (one ``sync`` for all of them)."""
    if hasattr(os, "sync"):
        os.sync()


def clean_temp_files(folder: Path, run: str | None = None) -> list[Path]:
    """Remove the abandoned temporary files in ``folder`` (see the module docstring); with ``run``,
    also every temporary file of that run, which must have finished. Returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX) or not entry.is_file(follow_symlinks=False):
            continue
        fields = entry.name[len(TEMP_PREFIX) :].split("-", 4)
        try:
            stale = now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS
        except OSError:
            continue
        ours = len(fields) == 5 and fields[0] == writer_id() and fields[1].isdigit()
        abandoned = (
            stale
            or (run is not None and len(fields) == 5 and fields[2] == run)
            or (ours and not _alive(int(fields[1])))
        )
        if abandoned:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.path.isdir("/proc/self"):  # Linux: a zombie (killed, not yet reaped) is not writing anything
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except FileNotFoundError:
            return False
        except (OSError, IndexError):
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
