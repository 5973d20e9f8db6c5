"""Converter building blocks shared by the dataset sources.

- :func:`adopt` / :func:`adopt_layout`: the upstream archive already *is* an i2i layout (the
  CycleGAN zips are ``trainA/ trainB/ testA/ testB/``, the pix2pix tarballs ``train/ val/
  test/`` of A|B images): find the folder that holds it (below wrapper folders) and place it.
- :func:`distinct_colors`: unique display colours for a palette of N classes.
- :func:`parallel_map`: run per-file conversions on a few threads (Pillow releases the GIL).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from i2i.errors import DatasetError
from i2i.specs import JUNK_NAMES, ConvertJob

T = TypeVar("T")


def _entries(folder: Path) -> list[Path]:
    return [
        p
        for p in sorted(folder.iterdir())
        if p.name not in JUNK_NAMES and not p.name.startswith(".")
    ]


#: Folder names that start a split (``train/``, ``trainA/``, ``val/``, ``test/``...): never
#: a wrapper to skip.
_SPLIT = re.compile(r"^(train|test|val|valid|validation)", re.IGNORECASE)


def descend(folder: Path) -> Path:
    """Skip wrapper folders: while ``folder`` holds exactly one entry, a folder that is not a
    split (``train*``, ``test*``, ``val*``), go into it (``x.zip`` -> ``x/`` -> ``x/trainA
    ...``)."""
    while True:
        entries = _entries(folder)
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return folder
        if _SPLIT.match(entries[0].name):
            return folder
        folder = entries[0]


def _listing(folder: Path) -> str:
    names = [p.name + ("/" if p.is_dir() else "") for p in _entries(folder)]
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return shown or "nothing"


def adopt(job: ConvertJob, required: Sequence[str] = (), what: str = "the dataset") -> int:
    """Place the folder that holds ``required`` (all of them; without ``required``: the only
    input below its wrapper folders) as the dataset; returns the number of files placed.

    Raises:
        DatasetError: no input folder holds ``required``.
    """
    if required:
        root = job.root_with(*required)
        if root is None:
            found = "; ".join(f"{p}: {_listing(descend(p))}" for p in job.inputs if p.is_dir())
            raise DatasetError(
                f"found no folder holding {', '.join(f'{r}/' for r in required)} in {what} "
                f"(found {found or 'no folders'}); is it the right archive or folder?"
            )
    else:
        dirs = [p for p in job.inputs if p.is_dir()]
        if len(dirs) != 1:
            raise DatasetError(f"expected one unpacked archive or folder, got {len(dirs)}")
        root = descend(dirs[0])
    n = job.place_tree(root)
    if n == 0:
        raise DatasetError(f"{what} holds no files (in '{root}')")
    return n


def adopt_layout(*required: str) -> Callable[[ConvertJob], None]:
    """A converter that :func:`adopt` s the folder holding ``required`` (e.g. ``"trainA",
    "trainB"``)."""

    def convert(job: ConvertJob) -> None:
        adopt(job, required)

    convert.__doc__ = f"Place the folder holding {', '.join(required) or 'the data'} as is."
    return convert


def distinct_colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` unique RGB colours, well spread for small ids (bits of the id spread over the
    channels from the most significant bit down, the scheme of the PASCAL VOC palette)."""
    colors = []
    for i in range(n):
        r = g = b = 0
        c = i
        for bit in range(7, -1, -1):
            r |= (c & 1) << bit
            g |= ((c >> 1) & 1) << bit
            b |= ((c >> 2) & 1) << bit
            c >>= 3
        colors.append((r, g, b))
    return colors


def unique_colors(colors: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Make colours unique by nudging repeats (the blue, then green channel) to the nearest
    free value; palette files need one colour per class."""
    used: set[tuple[int, int, int]] = set()
    out = []
    for color in colors:
        r, g, b = color
        step = 0
        while (r, g, b) in used:
            step += 1
            b = (color[2] + step) % 256
            g = (color[1] + step // 256) % 256
        used.add((r, g, b))
        out.append((r, g, b))
    return out


def parallel_map(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """``[fn(x) for x in items]`` on up to 8 threads (in order; exceptions propagate)."""
    if len(items) < 8:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))


def by_key(paths: Iterable[Path], suffix: str) -> dict[str, Path]:
    """``{name without suffix: path}`` for files whose name ends in ``suffix``."""
    return {p.name[: -len(suffix)]: p for p in paths if p.name.endswith(suffix)}


def require(found: Sequence[Any], what: str, inputs: Sequence[Path]) -> None:
    """Raise a DatasetError naming what was looked for and where, when ``found`` is empty."""
    if not found:
        where = ", ".join(f"'{p}'" for p in inputs) or "(no inputs)"
        raise DatasetError(f"found no {what} in {where}; is it the right archive or folder?")


def pair_up(
    job: ConvertJob,
    where: str,
    first: tuple[str, dict[str, Path]],
    second: tuple[str, dict[str, Path]],
    *,
    required: bool,
    fix: str,
    every_second: bool = True,
) -> list[tuple[str, Path, Path]]:
    """Pair two ``{key: file}`` maps (e.g. photos and label maps of one split).

    Args:
        job: The conversion (for messages).
        where: Dataset and split, for messages (``"Cityscapes train"``).
        first: ``(what, files)``, e.g. ``("leftImg8bit/train/CITY/*.png files", photos)``.
        second: The same for the partner files.
        required: Both maps must be non-empty (the split must be there).
        fix: How to fix a missing partner (the end of the message).
        every_second: A second file without a first one is an error too (else it is ignored).

    Returns:
        ``(key, first file, second file)`` sorted by key.

    Raises:
        DatasetError: an empty map when ``required``, or files without their partner.
    """
    (what_a, a), (what_b, b) = first, second
    if required:
        require(list(a), what_a, job.inputs)
        require(list(b), what_b, job.inputs)
    alone = sorted(set(a) ^ set(b)) if every_second else sorted(set(a) - set(b))
    if alone:
        shown = ", ".join(alone[:5]) + (f" and {len(alone) - 5} more" if len(alone) > 5 else "")
        raise DatasetError(f"{where}: {len(alone)} file(s) lack their partner ({shown}); {fix}")
    return [(k, a[k], b[k]) for k in sorted(a)]
