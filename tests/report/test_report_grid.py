"""Tests of i2i.report.grid: layout, colours, header and PNG output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.errors import InputError
from i2i.report import make_grid, save_grid
from i2i.report.grid import BACKGROUND, PAD, SEPARATOR


def _header_height(grid: np.ndarray) -> int:
    """Rows from the top until the first cell row (the first non-background pixel at x=SEP)."""
    column = grid[:, SEPARATOR + 1]
    for y in range(grid.shape[0]):
        if tuple(column[y]) != BACKGROUND:
            return y
    raise AssertionError("no cells found")


def _cell_layout(grid: np.ndarray, n_cols: int, n_rows: int) -> tuple[int, int, int]:
    header = _header_height(grid)
    cell_w = (grid.shape[1] - SEPARATOR) // n_cols - SEPARATOR
    cell_h = (grid.shape[0] - header - SEPARATOR) // n_rows - SEPARATOR
    return header, cell_h, cell_w


def _cell(grid: np.ndarray, header: int, cell_h: int, cell_w: int, r: int, c: int) -> np.ndarray:
    y0 = header + r * (cell_h + SEPARATOR)
    x0 = SEPARATOR + c * (cell_w + SEPARATOR)
    return grid[y0 : y0 + cell_h, x0 : x0 + cell_w]


def test_shape_rows_columns_and_dtype() -> None:
    images = {"real_A": torch.zeros(3, 3, 32, 32), "fake_B": torch.zeros(3, 3, 32, 32)}
    grid = make_grid(images, max_rows=2)
    assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[2] == 3
    header, cell_h, cell_w = _cell_layout(grid, n_cols=2, n_rows=2)
    assert header > 5
    assert cell_h == 32 and cell_w >= 32
    assert grid.shape[0] == header + 2 * (cell_h + SEPARATOR) + SEPARATOR
    assert grid.shape[1] == 2 * (cell_w + SEPARATOR) + SEPARATOR


def test_max_rows_caps_and_fewer_samples_use_fewer_rows() -> None:
    many = make_grid({"a": torch.zeros(10, 3, 16, 16)}, max_rows=4)
    few = make_grid({"a": torch.zeros(2, 3, 16, 16)}, max_rows=4)
    header = _header_height(many)
    assert many.shape[0] == header + 4 * (16 + SEPARATOR) + SEPARATOR
    assert few.shape[0] == header + 2 * (16 + SEPARATOR) + SEPARATOR


def test_header_has_column_names() -> None:
    grid = make_grid({"input": torch.zeros(1, 3, 48, 48), "output": torch.zeros(1, 3, 48, 48)})
    header, _, cell_w = _cell_layout(grid, n_cols=2, n_rows=1)
    strip = grid[:header]
    for c in range(2):
        x0 = SEPARATOR + c * (cell_w + SEPARATOR)
        part = strip[:, x0 : x0 + cell_w].astype(int)
        assert (part.sum(axis=2) > 3 * 150).any(), f"no text drawn in header of column {c}"
    # different names draw differently
    other = make_grid({"xx": torch.zeros(1, 3, 48, 48), "output": torch.zeros(1, 3, 48, 48)})
    assert other.shape == grid.shape
    assert not np.array_equal(other[:header], strip)


def test_long_names_widen_columns_up_to_a_limit() -> None:
    small = make_grid({"a_rather_long_column_name": torch.zeros(1, 3, 8, 8)})
    assert small.shape[1] > 8 + 2 * SEPARATOR  # widened so the name is readable
    huge = make_grid({"n" * 500: torch.zeros(1, 3, 8, 8)})
    assert huge.shape[1] <= 160 + 2 * SEPARATOR


def test_value_mapping_clipping_and_nan() -> None:
    x = torch.tensor([-1.0, 1.0, -5.0, 5.0, float("nan"), 0.0]).view(1, 1, 1, 6)
    grid = make_grid({"v": x.expand(1, 3, 1, 6)})
    header, cell_h, cell_w = _cell_layout(grid, 1, 1)
    cell = _cell(grid, header, cell_h, cell_w, 0, 0)
    dx = (cell_w - 6) // 2
    row = cell[0, dx : dx + 6, 0].tolist()
    assert row == [0, 255, 0, 255, 128, 128]


def test_grayscale_and_rgb_mix() -> None:
    gray = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(2, 1, 16, 16)
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(2, 3, 16, 16)
    grid = make_grid({"gray": gray, "red": red})
    header, cell_h, cell_w = _cell_layout(grid, 2, 2)
    dx = (cell_w - 16) // 2
    g = _cell(grid, header, cell_h, cell_w, 1, 0)[:, dx : dx + 16]
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])
    assert g[0, 0, 0] == 0 and g[0, -1, 0] == 255
    r = _cell(grid, header, cell_h, cell_w, 0, 1)[:, dx : dx + 16]
    assert (r == np.array([255, 0, 0], dtype=np.uint8)).all()


def test_different_sizes_are_centred_on_a_neutral_border() -> None:
    grid = make_grid({"lr": torch.ones(1, 3, 8, 8), "sr": torch.ones(1, 3, 32, 24)})
    header, cell_h, cell_w = _cell_layout(grid, 2, 1)
    assert cell_h == 32
    small = _cell(grid, header, cell_h, cell_w, 0, 0)
    assert tuple(small[0, 0]) == PAD
    cy, cx = (32 - 8) // 2, (cell_w - 8) // 2
    assert (small[cy : cy + 8, cx : cx + 8] == 255).all()
    assert int((small == 255).all(axis=2).sum()) == 64


def test_column_with_fewer_samples_leaves_dark_cells() -> None:
    grid = make_grid({"a": torch.ones(2, 3, 8, 8), "b": torch.ones(1, 3, 8, 8)})
    header, cell_h, cell_w = _cell_layout(grid, 2, 2)
    empty = _cell(grid, header, cell_h, cell_w, 1, 1)
    assert (empty == np.array(BACKGROUND, dtype=np.uint8)).all()


def test_chw_and_uint8_inputs() -> None:
    grid = make_grid(
        {"chw": torch.zeros(3, 8, 8), "u8": torch.full((1, 1, 8, 8), 7, dtype=torch.uint8)}
    )
    header, cell_h, cell_w = _cell_layout(grid, 2, 1)
    cell = _cell(grid, header, cell_h, cell_w, 0, 1)
    dx = (cell_w - 8) // 2
    assert (cell[:, dx : dx + 8] == 7).all()


@pytest.mark.parametrize(
    ("images", "max_rows"),
    [
        ({}, 4),
        ({"a": torch.zeros(1, 2, 8, 8)}, 4),
        ({"a": torch.zeros(8, 8)}, 4),
        ({"a": torch.zeros(0, 3, 8, 8)}, 4),
        ({"a": "not a tensor"}, 4),
        ({"a": torch.zeros(1, 3, 8, 8)}, 0),
    ],
)
def test_bad_input_raises_input_error(images: dict, max_rows: int) -> None:
    with pytest.raises(InputError):
        make_grid(images, max_rows=max_rows)


def test_save_grid_writes_a_png_atomically(tmp_path: Path) -> None:
    images = {"A": torch.rand(2, 3, 20, 20) * 2 - 1, "B": torch.rand(2, 1, 20, 20) * 2 - 1}
    path = save_grid(images, tmp_path / "samples" / "step_000200.png", max_rows=2)
    assert path == tmp_path / "samples" / "step_000200.png"
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        pixels = np.asarray(im)
    assert np.array_equal(pixels, make_grid(images, max_rows=2))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left
