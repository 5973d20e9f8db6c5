"""Atomic file writes: a temporary file in the same folder, then :func:`os.replace`.

A reader (a browser refreshing ``index.html``, a user copying ``samples/``) never sees a
half-written file, and a run killed mid-write leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: Destination file.
        data: The complete file content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically.

    Args:
        path: Destination file.
        text: The complete file content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return atomic_write_bytes(path, text.encode("utf-8"))
