"""Label maps (integer class ids per pixel, SPADE-style models) and their palettes.

Label files are read as integer ids: single-channel PNGs (8 or 16 bit) and palette ("P") PNGs
give their values / palette indices directly; RGB(A) label maps are mapped colour -> id through a
palette file (one class per line: ``ID R G B [NAME]``, ``#`` starts a comment; ``palette.txt``
by convention). Greyscale images saved as RGB (R == G == B everywhere) are read as their grey
values. Label maps are never normalized or resized.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DatasetError, ImageReadError
from .headers import (
    DEFAULT_MAX_PIXELS,
    ImageSource,
    _allow_pillow,
    _header_of,
    _opener,
    _quiet_bomb_warning,
    too_large,
)

#: Conventional palette file name in a label-map folder.
PALETTE_NAME = "palette.txt"


@dataclasses.dataclass(frozen=True)
class Palette:
    """Class ids with optional names and colours (from ``palette.txt``).

    Attributes:
        ids: Class ids, in file order.
        names: Name of each id (``str(id)`` when the file gives none).
        colors: ``(r, g, b) -> id`` for RGB label maps.
        path: The file it was read from.
    """

    ids: tuple[int, ...]
    names: Mapping[int, str]
    colors: Mapping[tuple[int, int, int], int]
    path: Path | None = None

    @property
    def label_nc(self) -> int:
        """Class count: largest id + 1."""
        return max(self.ids) + 1 if self.ids else 0

    def class_names(self) -> list[str]:
        """Names of ids ``0 .. label_nc - 1`` (``str(id)`` for ids the file leaves out)."""
        return [self.names.get(i, str(i)) for i in range(self.label_nc)]


def read_palette(path: str | os.PathLike[str]) -> Palette:
    """Read a palette file: one class per line, ``ID R G B [NAME]``; ``#`` starts a comment.

    Raises:
        DatasetError: a malformed line (the message names the file and line), an id or colour
            used twice, or values out of range.
    """
    path = Path(path)
    ids: list[int] = []
    names: dict[int, str] = {}
    colors: dict[tuple[int, int, int], int] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            cid, r, g, b = (int(v) for v in parts[:4])
        except ValueError:
            cid = r = g = b = -1
        if len(parts) < 4 or cid < 0 or not all(0 <= v <= 255 for v in (r, g, b)):
            raise DatasetError(
                f"palette '{path}' line {n} is {raw.strip()!r}; expected 'ID R G B [NAME]' with "
                "ID >= 0 and R, G, B in 0..255"
            )
        if cid in names or (r, g, b) in colors:
            raise DatasetError(
                f"palette '{path}' line {n}: id {cid} or colour ({r}, {g}, {b}) is used twice; "
                "give every class its own id and colour"
            )
        ids.append(cid)
        names[cid] = " ".join(parts[4:]) or str(cid)
        colors[(r, g, b)] = cid
    if not ids:
        raise DatasetError(f"palette '{path}' lists no classes; add lines 'ID R G B [NAME]'")
    return Palette(tuple(ids), names, colors, path)


class UnknownColorsError(DatasetError):
    """An RGB label map holds colours that the palette does not list."""

    def __init__(self, path: Path, colors: list[tuple[int, int, int]]) -> None:
        self.path = path
        self.colors = colors
        shown = ", ".join(f"({r}, {g}, {b})" for r, g, b in colors[:5])
        more = f" and {len(colors) - 5} more" if len(colors) > 5 else ""
        super().__init__(
            f"label map '{path}' has colours not in the palette: {shown}{more}; add them to "
            f"{PALETTE_NAME} ('ID R G B NAME') or fix the label map"
        )


def _map_colors(rgb: np.ndarray, palette: Palette, path: Path) -> np.ndarray:
    packed = (
        (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    )
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in palette.colors], dtype=np.int64)
    values = np.array(list(palette.colors.values()), dtype=np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    found = keys[pos] == packed
    if not found.all():
        bad = np.unique(packed[~found])
        raise UnknownColorsError(
            path, [(int(v >> 16), int((v >> 8) & 255), int(v & 255)) for v in bad]
        )
    return values[pos]


def read_label_map(
    source: ImageSource,
    palette: Palette | None = None,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode a label (or instance) map (a file, or its bytes) into an ``H x W`` int64 array of
    ids.

    Single-channel files (8/16/32-bit) give their values, palette ("P") PNGs their indices;
    RGB(A) files are mapped through ``palette`` (or read as grey values when R == G == B). The
    header is checked first: more than ``max_pixels`` pixels (0 / None: no limit) is refused
    before decoding.

    Raises:
        ImageTooLargeError: more than ``max_pixels`` pixels.
        ImageReadError: the file cannot be decoded.
        UnknownColorsError: an RGB map holds colours the palette does not list.
        DatasetError: an RGB map without a palette.
    """
    path, what = _opener(source)
    _allow_pillow(max_pixels)
    try:
        with _quiet_bomb_warning():
            im = Image.open(io.BytesIO(what) if isinstance(what, bytes) else what)  # type: ignore[arg-type]
        try:
            error = too_large(_header_of(im), max_pixels, path, 1)
            if error is not None:
                raise error
            im.load()
            mode = im.mode
            arr = np.asarray(im)
        finally:
            im.close()
    except ImageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - Pillow raises many exception types
        where = f"'{path}'" if isinstance(path, Path) else "(uploaded data)"
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise ImageReadError(f"cannot read label map {where}: {reason}") from e
    return label_ids(arr, palette, path, mode)


def label_ids(
    arr: np.ndarray, palette: Palette | None = None, name: object = "", mode: str = ""
) -> np.ndarray:
    """Class ids (``H x W`` int64) of decoded label-map pixels: an ``H x W`` array of ids as
    it is, an ``H x W x C`` colour array through ``palette`` (or its grey values when R == G ==
    B).

    Raises:
        UnknownColorsError: colours the palette does not list.
        DatasetError: a colour map without a palette.
    """
    if arr.ndim == 2:
        return arr.astype(np.int64)
    if arr.shape[2] == 1:
        return arr[..., 0].astype(np.int64)
    rgb = arr[..., :3]
    if palette is not None and palette.colors:
        return _map_colors(rgb.astype(np.int64), palette, name)  # type: ignore[arg-type]
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0].astype(np.int64)
    what = f"label map '{name}'" if isinstance(name, Path) else "the label map"
    raise DatasetError(
        f"{what} is a colour ({mode or 'RGB'}) image and there is no palette; save label "
        f"maps as single-channel PNGs of class ids, or add {PALETTE_NAME} ('ID R G B NAME' "
        "lines) to map colours to ids"
    )
