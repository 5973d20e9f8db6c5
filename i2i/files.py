"""Atomic file writes with consistent permissions.

Every file i2i writes into a run (config, status, checkpoints, pages, sample grids) goes through
a temporary file in the same folder and :func:`os.replace`: a reader never sees a half-written
file and a process killed mid-write leaves the previous version in place. Files get the mode a
plain ``open()`` would give them (``0o666`` minus the umask, usually ``0o644``), whatever the
library that wrote them chose (``tempfile.mkstemp`` and safetensors create ``0o600`` files).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting (and restoring) it
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of a new regular file: ``0o666`` minus the umask."""
    return 0o666 & ~current_umask()


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the OS supports it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file atomically by calling ``write`` on a temporary file next to ``path``.

    Args:
        path: Destination file. Its parent folders are created when missing.
        write: Called with the open binary temporary file; it writes the whole content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))
