"""Sample grids: one row per sample, one column per named image, a header with the names.

A family says which images are worth showing for a batch (``{"real_A": ..., "fake_B": ...}``);
the trainer turns them into a PNG under ``samples/`` with :func:`save_grid`.

Example:
    >>> import torch
    >>> grid = make_grid({"input": torch.zeros(2, 1, 32, 32), "output": torch.ones(2, 3, 32, 32)})
    >>> grid.shape[2], grid.dtype.name
    (3, 'uint8')
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from i2i.errors import InputError
from i2i.files import atomic_write_bytes

__all__ = ["make_grid", "save_grid", "write_grid"]

log = logging.getLogger(__name__)

SEPARATOR = 2  # pixels between cells and around the grid
BACKGROUND = (32, 32, 36)  # separators, border and header strip
PAD = (92, 92, 92)  # neutral grey around images smaller than the cell
TEXT = (236, 236, 236)
HEADER_PAD = 4  # pixels above and below the column names
MAX_LABEL_WIDTH = 160  # a column is widened up to this to fit its name; longer names are cut


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def _text_width(text: str) -> int:
    left, _, right, _ = _font().getbbox(text)
    return int(right - left)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` (adding ``..``) until it fits ``width`` pixels."""
    if _text_width(text) <= width:
        return text
    while text and _text_width(text + "..") > width:
        text = text[:-1]
    return text + ".." if text else ""


def _to_uint8(key: str, value: torch.Tensor) -> np.ndarray:
    """Turn an ``NCHW`` (or ``CHW``) tensor in [-1, 1] into ``N x H x W x 3`` uint8."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise InputError(
            f"sample image '{key}' must be a torch.Tensor, got {type(value).__name__}; "
            "return tensors from the family's sample images"
        )
    if value.dim() == 3:
        value = value.unsqueeze(0)
    if value.dim() != 4 or value.shape[1] not in (1, 3, 4) or value.shape[0] == 0:
        raise InputError(
            f"sample image '{key}' must have shape N x C x H x W with N >= 1 and C in (1, 3), "
            f"got {tuple(value.shape)}"
        )
    x = value.detach().to("cpu")
    if x.dtype == torch.uint8:  # already 0..255
        u8 = x
    else:
        x = torch.nan_to_num(x.float(), nan=0.0, posinf=1.0, neginf=-1.0).clamp(-1.0, 1.0)
        u8 = ((x + 1.0) * 127.5).round().to(torch.uint8)
    if u8.shape[1] == 1:
        u8 = u8.expand(-1, 3, -1, -1)
    elif u8.shape[1] == 4:  # RGBA: show the colour channels
        u8 = u8[:, :3]
    return u8.permute(0, 2, 3, 1).contiguous().numpy()


def make_grid(images: Mapping[str, torch.Tensor], max_rows: int = 4) -> np.ndarray:
    """Lay out named image batches as a grid with a header of column names.

    One row per sample (the first ``max_rows`` of each batch), one column per key in the
    mapping's order. Every cell has the size of the largest image; smaller images are centred on
    a neutral grey border, so batches of different sizes (e.g. a low-resolution input next to a
    super-resolved output) can share a grid; a column with fewer samples leaves its cells dark.
    Grayscale images are shown as grey, values outside [-1, 1] are clipped and NaN is shown as
    mid grey. A column is widened (up to 160 px) so its name fits; longer names are shortened
    with ``..``.

    Args:
        images: Column name -> image batch in [-1, 1] (a ``uint8`` tensor is taken as 0..255).
            Batches may have different sizes and different numbers of samples.
        max_rows: Most samples (rows) to show.

    Returns:
        The grid as an ``H x W x 3`` uint8 array.

    Raises:
        InputError: ``images`` is empty, a value is not an image batch, or ``max_rows < 1``.

    Shape:
        - images[key]: ``(N, C, H, W)`` or ``(C, H, W)`` with ``C`` in (1, 3).
        - Output: ``(header + rows * (H_max + 2) + 2, cols * (W_cell + 2) + 2, 3)``.
    """
    if max_rows < 1:
        raise InputError(f"max_rows must be at least 1, got {max_rows}")
    if not images:
        raise InputError("make_grid needs at least one named image batch, got an empty mapping")
    columns = [(str(name), _to_uint8(str(name), value)) for name, value in images.items()]
    rows = min(max_rows, max(batch.shape[0] for _, batch in columns))
    cell_h = max(batch.shape[1] for _, batch in columns)
    widest_label = max(_text_width(name) for name, _ in columns) + 2 * HEADER_PAD
    cell_w = max(max(batch.shape[2] for _, batch in columns), min(widest_label, MAX_LABEL_WIDTH))

    bottom = _font().getbbox("Ag_|")[3]
    header_h = int(bottom) + 2 * HEADER_PAD

    height = header_h + rows * (cell_h + SEPARATOR) + SEPARATOR
    width = len(columns) * (cell_w + SEPARATOR) + SEPARATOR
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND

    for c, (_, batch) in enumerate(columns):
        x0 = SEPARATOR + c * (cell_w + SEPARATOR)
        for r in range(rows):
            y0 = header_h + r * (cell_h + SEPARATOR)
            if r >= batch.shape[0]:  # this column has fewer samples: leave the cell dark
                continue
            canvas[y0 : y0 + cell_h, x0 : x0 + cell_w] = PAD
            img = batch[r]
            dy = (cell_h - img.shape[0]) // 2
            dx = (cell_w - img.shape[1]) // 2
            canvas[y0 + dy : y0 + dy + img.shape[0], x0 + dx : x0 + dx + img.shape[1]] = img

    header = Image.fromarray(canvas[:header_h])
    draw = ImageDraw.Draw(header)
    for c, (name, _) in enumerate(columns):
        label = _fit(name, cell_w - 2 * HEADER_PAD)
        x0 = SEPARATOR + c * (cell_w + SEPARATOR)
        x = x0 + max(HEADER_PAD, (cell_w - _text_width(label)) // 2)
        draw.text((x, HEADER_PAD), label, fill=TEXT, font=_font())
    canvas[:header_h] = np.asarray(header)
    return canvas


def save_grid(images: Mapping[str, torch.Tensor], path: str | Path, max_rows: int = 4) -> Path:
    """Draw a grid with :func:`make_grid` and write it as a PNG, atomically.

    Args:
        images: Column name -> image batch in [-1, 1], as for :func:`make_grid`.
        path: Destination ``.png`` file; parent folders are created.
        max_rows: Most samples (rows) to show.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: The images cannot be laid out (see :func:`make_grid`).

    Example:
        >>> save_grid({"A": real_a, "fake_B": fake_b}, run / "samples" / "step_000200.png")
    """
    return write_grid(make_grid(images, max_rows=max_rows), path)


def write_grid(grid: np.ndarray, path: str | Path) -> Path:
    """Write a grid made by :func:`make_grid` (``H x W x 3`` uint8) as a PNG, atomically.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    buf = io.BytesIO()
    Image.fromarray(grid).save(buf, format="PNG")
    path = atomic_write_bytes(path, buf.getvalue())
    log.debug("wrote sample grid %s (%dx%d)", path, grid.shape[1], grid.shape[0])
    return path
