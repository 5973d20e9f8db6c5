"""Reports of a run: sample grids, loss charts (inline SVG) and the HTML results page.

No plotting dependency: grids are drawn with numpy and Pillow, charts are hand-written SVG.

Example:
    >>> from i2i.report import save_grid, write_run_page
    >>> save_grid({"A": real_a, "fake_B": fake_b}, run / "samples" / "step_000200.png")
    >>> write_run_page(run)  # run/index.html
"""

from __future__ import annotations

from i2i.report.grid import make_grid, save_grid, write_grid
from i2i.report.html import render_run_page, write_run_page
from i2i.report.plots import charts_for_run, loss_chart_svg, read_metrics

__all__ = [
    "charts_for_run",
    "loss_chart_svg",
    "make_grid",
    "read_metrics",
    "render_run_page",
    "save_grid",
    "write_grid",
    "write_run_page",
]
