"""HTML helpers shared by the results page's sections: escaping, relative links, tolerant
file readers and number formatting."""

from __future__ import annotations

import html
import json
import logging
import math
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger("i2i.report.html")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


def read_json(path: Path) -> Any:
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        log.warning("ignoring %s: not valid JSON (%s)", path, exc)
        return None


def to_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


def href(rel: str) -> str:
    """A relative URL for a POSIX-style relative path, escaped for an HTML attribute."""
    return esc(quote(rel, safe="/._-~"))


def rel(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder, POSIX style."""
    return Path(os.path.relpath(path, run_dir)).as_posix()


def size_text(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def value_text(v: Any) -> str:
    if isinstance(v, float):
        if math.isfinite(v) and 1e3 <= abs(v) < 1e12:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(v)
