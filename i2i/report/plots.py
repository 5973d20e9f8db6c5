"""Loss curves as hand-drawn inline SVG (no plotting dependency).

``metrics.jsonl`` holds one JSON object per logged step, e.g.
``{"step": 10, "time": 12.3, "G/total": 1.2, "G/gan_A": 0.3, "D/total": 0.5, "lr/G": 0.0002}``.
:func:`read_metrics` reads it (a run killed mid-write may leave a truncated last line),
:func:`loss_chart_svg` draws some of its keys over ``step`` and :func:`charts_for_run` draws one
chart per key prefix (``G``, ``D``, ``lr``, ...).

Example:
    >>> records = read_metrics(run / "metrics.jsonl")
    >>> svg = loss_chart_svg(records, ["G/gan_A", "G/cycle_A"], title="Generator", smooth=0.6)
"""

from __future__ import annotations

import html
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from i2i.errors import ConfigError

__all__ = ["charts_for_run", "loss_chart_svg", "read_metrics"]

log = logging.getLogger(__name__)

#: Keys that are not series to plot (the x axis and bookkeeping).
NOT_SERIES = frozenset({"step", "time", "epoch"})

#: Line colours, in order; after the last one they repeat dashed.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
TOTAL_COLOUR = "#222222"  # */total lines are drawn dark and a little thicker

GROUP_TITLES = {
    "G": "Generator losses",
    "D": "Discriminator losses",
    "lr": "Learning rates",
}

_CHAR_W = 6.4  # approximate width of one character at font-size 11, for layout
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


# ---------------------------------------------------------------------------------------------
# Reading


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read ``metrics.jsonl``: one JSON object per line.

    Never raises for a damaged file: a missing or unreadable file gives ``[]``, a truncated last
    line (the run was killed while writing) is dropped quietly, and other unreadable lines or
    lines that are not JSON objects are skipped with a warning. ``NaN`` and ``Infinity`` (as
    Python's :mod:`json` writes them) are read as floats.

    Args:
        path: The ``metrics.jsonl`` file.

    Returns:
        The records, in file order.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot read metrics file %s: %s", path, exc)
        return []
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    records: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if i == last:
                log.debug("ignoring truncated last line %d of %s", i + 1, path)
            else:
                log.warning("skipping unreadable line %d of %s", i + 1, path)
            continue
        if isinstance(obj, dict):
            records.append(obj)
        elif i != last:
            log.warning("skipping line %d of %s: not a JSON object", i + 1, path)
    return records


# ---------------------------------------------------------------------------------------------
# Series


LIMIT = 1e100  # larger magnitudes are drawn as gaps (an exploded loss must not break the axes)


def _value(v: Any) -> float | None:
    """A plottable value: a float (NaN for a gap) or None for 'not a sample'.

    Numbers are samples; ``null`` and the strings ``"nan"``/``"inf"`` are samples that cannot be
    drawn (gaps); booleans, other strings, lists and objects are not samples at all.
    """
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if v is None:
        return math.nan
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _finite(v: float) -> bool:
    return not (math.isnan(v) or math.isinf(v))


def _by_step(records: Iterable[Mapping[str, Any]]) -> list[tuple[float, Mapping[str, Any]]]:
    """Records keyed by a finite ``step``, in order, with resumed stretches replacing old ones.

    A run resumed from a checkpoint logs steps it had logged before; when ``step`` goes back, the
    older records from that step on are dropped. Records with the same step are merged.
    """
    out: list[tuple[float, Mapping[str, Any]]] = []
    for rec in records:
        if not isinstance(rec, Mapping):
            continue
        step = _value(rec.get("step"))
        if step is None or not _finite(step):
            continue
        while out and out[-1][0] > step:
            out.pop()
        if out and out[-1][0] == step:
            out[-1] = (step, {**out[-1][1], **rec})
        else:
            out.append((step, rec))
    return out


def _all_series(
    rows: Sequence[tuple[float, Mapping[str, Any]]], keys: Sequence[str] | None = None
) -> dict[str, list[tuple[float, float]]]:
    """(step, value) pairs per key, in one pass over the records.

    A record without the key is no sample; a non-finite (or ``null``) value is NaN, a gap.
    With ``keys=None``: every key with at least one sample except ``step``, ``time``, ``epoch``,
    in first-seen order.
    """
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in keys} if keys is not None else {}
    nan = math.nan
    for step, rec in rows:
        for key, v in rec.items():
            if keys is not None:
                series = out.get(key)
                if series is None:
                    continue
            elif key in NOT_SERIES:
                continue
            else:
                series = None
            if type(v) is float or type(v) is int:
                y = float(v)
            else:
                y = _value(v)
                if y is None:
                    continue
            if not (-LIMIT <= y <= LIMIT):  # NaN, inf and overflow
                y = nan
            if series is None:
                series = out.setdefault(str(key), [])
            series.append((step, y))
    return out


def _ema(points: list[tuple[float, float]], smooth: float) -> list[tuple[float, float]]:
    """Debiased exponential moving average (as TensorBoard); gaps stay gaps."""
    if smooth <= 0.0:
        return points
    out: list[tuple[float, float]] = []
    acc, n = 0.0, 0
    for x, y in points:
        if math.isnan(y):
            out.append((x, y))
            continue
        n += 1
        acc = smooth * acc + (1.0 - smooth) * y
        out.append((x, acc / (1.0 - smooth**n)))
    return out


def _m4(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices to keep: first, lowest, highest and last point of every pixel column (M4).

    Drawing only these gives the same picture as drawing every point, so a run with a million
    logged steps still makes a small SVG.
    """
    col = np.floor(x).astype(np.int64)
    new = np.empty(len(col), dtype=bool)
    new[0] = True
    np.not_equal(col[1:], col[:-1], out=new[1:])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(col)) - 1
    order = np.lexsort((y, group))  # by column, then by value
    first_of_group = np.flatnonzero(np.append(True, group[order][1:] != group[order][:-1]))
    last_of_group = np.append(first_of_group[1:], len(order)) - 1
    keep = np.concatenate([starts, ends, order[first_of_group], order[last_of_group]])
    return np.unique(keep)


# ---------------------------------------------------------------------------------------------
# Axes


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    if raw <= 0 or not _finite(raw):
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [i * step for i in range(first, last + 1)][:50]


def _fmt(v: float, step: float, scale: float) -> str:
    """A tick label: one style per axis (``scale`` is the largest absolute tick value)."""
    if abs(v) < abs(step) * 1e-6:
        return "0"
    if step >= 1e6 and step % 1e6 == 0:
        return f"{v / 1e6:g}M"
    if step >= 1000 and step % 1000 == 0:
        return f"{v / 1000:g}k"
    if abs(step) < 1e-3 or scale >= 1e6:
        return f"{v:.3g}"
    decimals = max(0, -math.floor(math.log10(abs(step)) + 1e-9))
    if round(step * 10**decimals) != step * 10**decimals:  # 2.5, 0.25 ...
        decimals += 1
    return f"{v:.{decimals}f}"


def _fmt_value(v: float) -> str:
    return f"{v:.4g}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------------------------
# Chart


def loss_chart_svg(
    records: Sequence[Mapping[str, Any]],
    keys: list[str] | None = None,
    title: str = "",
    width: int = 640,
    height: int = 280,
    smooth: float = 0.0,
) -> str:
    """Draw metric series over ``step`` as a self-contained inline SVG line chart.

    Each key is one ``<path class="series">`` (with ``data-key``) in its own colour; ``*/total``
    keys are drawn dark and thicker. A NaN, infinite or ``null`` value breaks the line (a gap);
    a record without the key is simply not a sample (the line joins its neighbours), so series
    logged at different rates share a chart. A point with no neighbour (e.g. a run with one
    logged step) is drawn as a dot. When ``step`` goes backwards (a resumed run), the older
    records from that step on are replaced. The legend shows each key's last value.

    Args:
        records: Metric records (see :func:`read_metrics`); records without a numeric ``step``
            are ignored.
        keys: Keys to draw, in legend order. ``None``: every numeric key except ``step``,
            ``time`` and ``epoch``.
        title: Chart title drawn at the top (none when empty).
        width: SVG width in pixels (it scales with CSS; a ``viewBox`` is set).
        height: SVG height in pixels; grown when a long legend would leave too little room.
        smooth: Exponential moving average weight in [0, 1); 0 draws the raw values. When
            smoothing, the raw values are drawn faintly behind (``<path class="raw">``).

    Returns:
        The ``<svg>`` element as a string (well-formed XML, all text escaped).

    Raises:
        ConfigError: ``smooth`` is outside [0, 1) or the size is too small to draw in.

    Example:
        >>> svg = loss_chart_svg([{"step": 1, "G/gan": 0.7}, {"step": 2, "G/gan": 0.6}])
        >>> svg.startswith("<svg")
        True
    """
    if not (0.0 <= smooth < 1.0):
        raise ConfigError(f"smooth must be in [0, 1), got {smooth}")
    if width < 120 or height < 80:
        raise ConfigError(f"chart size must be at least 120 x 80 pixels, got {width} x {height}")

    rows = _by_step(records)
    series = _all_series(rows, list(dict.fromkeys(keys)) if keys is not None else None)
    return _chart(series, title, width, height, smooth)


def _chart(
    raw: dict[str, list[tuple[float, float]]], title: str, width: int, height: int, smooth: float
) -> str:
    """The SVG of :func:`loss_chart_svg` for already extracted series (key order = legend)."""
    keys = list(raw)
    drawn = {k: _ema(raw[k], smooth) for k in keys}

    # -- layout ------------------------------------------------------------------------------
    margin, title_h = 10, (22 if title else 0)
    legend = []
    for i, key in enumerate(keys):
        last = next((y for _, y in reversed(raw[key]) if not math.isnan(y)), None)
        label = f"{key}  {_fmt_value(last)}" if last is not None else f"{key}  (no data)"
        legend.append((key, label, _style(key, i)))
    legend_rows: list[list[tuple[float, str, str, tuple[str, float, str]]]] = [[]]
    x = float(margin)
    for key, label, style in legend:
        item_w = 22 + len(label) * _CHAR_W + 14
        if legend_rows[-1] and x + item_w > width - margin:
            legend_rows.append([])
            x = float(margin)
        legend_rows[-1].append((x, key, label, style))
        x += item_w
    legend_h = 16 * len(legend_rows) if keys else 0
    top = margin + title_h + legend_h + 6
    bottom_pad = 34
    height = max(height, top + 60 + bottom_pad)

    # -- domains -----------------------------------------------------------------------------
    xs = [x for k in keys for x, _ in raw[k]]
    ys = [y for k in keys for _, y in raw[k] + drawn[k] if not math.isnan(y)]
    parts: list[str] = []
    parts.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="i2i-chart" role="img" '
        f'aria-label="{_esc(title or "chart")}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{_esc(_FONT)}" font-size="11">'
    )
    parts.append(f'<rect class="bg" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>')
    if title:
        parts.append(
            f'<text class="title" x="{margin}" y="{margin + 14}" font-size="13" '
            f'font-weight="600" fill="#222">{_esc(title)}</text>'
        )

    if ys:
        y_lo, y_hi = min(ys), max(ys)
    else:
        y_lo, y_hi = 0.0, 1.0
    if y_hi - y_lo <= abs(y_hi) * 1e-12:
        pad = abs(y_hi) * 0.1 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    y_step = _nice_step(y_hi - y_lo, 5)
    y_lo, y_hi = math.floor(y_lo / y_step) * y_step, math.ceil(y_hi / y_step) * y_step
    y_ticks = _ticks(y_lo, y_hi, y_step)
    y_scale = max(abs(t) for t in y_ticks)
    y_labels = [(t, _fmt(t, y_step, y_scale)) for t in y_ticks]

    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1.0, x_hi + 1.0
    x_step = _nice_step(x_hi - x_lo, max(2, int((width - 80) / 90)))
    if all(float(x).is_integer() for x in xs):
        x_step = max(1.0, x_step)

    left = margin + max(len(lbl) for _, lbl in y_labels) * _CHAR_W + 8
    right = width - margin - 4
    plot_top, plot_bottom = float(top), float(height - bottom_pad)

    def px(v: Any) -> Any:  # floats and numpy arrays
        return left + (v - x_lo) / (x_hi - x_lo) * (right - left)

    def py(v: Any) -> Any:
        return plot_bottom - (v - y_lo) / (y_hi - y_lo) * (plot_bottom - plot_top)

    # -- axes and grid -----------------------------------------------------------------------
    parts.append('<g class="grid" stroke="#e6e6e6" stroke-width="1">')
    for t, _ in y_labels:
        parts.append(
            f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(py(t))}" y2="{_num(py(t))}"/>'
        )
    x_ticks = _ticks(x_lo, x_hi, x_step)
    x_scale = max((abs(t) for t in x_ticks), default=1.0)
    for t in x_ticks:
        parts.append(
            f'<line x1="{_num(px(t))}" x2="{_num(px(t))}" y1="{_num(plot_top)}" '
            f'y2="{_num(plot_bottom)}"/>'
        )
    parts.append("</g>")
    parts.append(
        f'<g class="axes" stroke="#888" stroke-width="1"><line x1="{_num(left)}" '
        f'x2="{_num(right)}" y1="{_num(plot_bottom)}" y2="{_num(plot_bottom)}"/>'
        f'<line x1="{_num(left)}" x2="{_num(left)}" y1="{_num(plot_top)}" '
        f'y2="{_num(plot_bottom)}"/></g>'
    )
    parts.append('<g class="ticks" fill="#555">')
    for t, lbl in y_labels:
        parts.append(
            f'<text x="{_num(left - 5)}" y="{_num(py(t) + 4)}" text-anchor="end">{_esc(lbl)}</text>'
        )
    for t in x_ticks:
        parts.append(
            f'<text x="{_num(px(t))}" y="{_num(plot_bottom + 15)}" text-anchor="middle">'
            f"{_esc(_fmt(t, x_step, x_scale))}</text>"
        )
    parts.append(
        f'<text class="xlabel" x="{_num(right)}" y="{_num(plot_bottom + 29)}" '
        f'text-anchor="end" fill="#777">step</text>'
    )
    parts.append("</g>")

    # -- series ------------------------------------------------------------------------------
    if not ys:
        parts.append(
            f'<text class="empty" x="{_num((left + right) / 2)}" '
            f'y="{_num((plot_top + plot_bottom) / 2)}" text-anchor="middle" fill="#999" '
            f'font-size="13">no data yet</text>'
        )
    if smooth > 0:
        for i, key in enumerate(keys):
            colour, stroke_w, dash = _style(key, i)
            d, _ = _path_data(raw[key], px, py)
            parts.append(
                f'<path class="raw" data-key="{_esc(key)}" d="{d}" fill="none" '
                f'stroke="{colour}" stroke-width="1" stroke-opacity="0.2"{dash}/>'
            )
    for i, key in enumerate(keys):
        colour, stroke_w, dash = _style(key, i)
        d, dots = _path_data(drawn[key], px, py)
        finite = [y for _, y in raw[key] if not math.isnan(y)]
        tip = key
        if finite:
            tip += (
                f": last {_fmt_value(finite[-1])}, min {_fmt_value(min(finite))}, "
                f"max {_fmt_value(max(finite))} ({len(finite)} points)"
            )
        parts.append(
            f'<path class="series" data-key="{_esc(key)}" d="{d}" fill="none" '
            f'stroke="{colour}" stroke-width="{stroke_w}" stroke-linejoin="round" '
            f'stroke-linecap="round"{dash}><title>{_esc(tip)}</title></path>'
        )
        for x, y in dots:
            parts.append(
                f'<circle class="point" data-key="{_esc(key)}" cx="{_num(x)}" cy="{_num(y)}" '
                f'r="{max(2.5, stroke_w + 1)}" fill="{colour}"/>'
            )

    # -- legend ------------------------------------------------------------------------------
    if keys:
        parts.append('<g class="legend" fill="#333">')
        for r, row in enumerate(legend_rows):
            ly = margin + title_h + 16 * r + 10
            for x, key, label, (colour, stroke_w, dash) in row:
                parts.append(
                    f'<line x1="{_num(x)}" x2="{_num(x + 16)}" y1="{_num(ly - 4)}" '
                    f'y2="{_num(ly - 4)}" stroke="{colour}" stroke-width="{stroke_w + 0.5}"'
                    f"{dash}/>"
                )
                parts.append(
                    f'<text x="{_num(x + 22)}" y="{_num(ly)}" data-key="{_esc(key)}">'
                    f"{_esc(label)}</text>"
                )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _style(key: str, index: int) -> tuple[str, float, str]:
    """(colour, stroke width, dash attribute) of the ``index``-th key."""
    if key == "total" or key.endswith("/total"):
        return TOTAL_COLOUR, 2.0, ""
    colour = PALETTE[index % len(PALETTE)]
    dash = ' stroke-dasharray="6 3"' if (index // len(PALETTE)) % 2 else ""
    return colour, 1.5, dash


def _path_data(
    points: list[tuple[float, float]],
    px: Callable[[np.ndarray], np.ndarray],
    py: Callable[[np.ndarray], np.ndarray],
) -> tuple[str, list[tuple[float, float]]]:
    """SVG path data of the finite runs, and the isolated points to draw as dots."""
    if not points:
        return "", []
    data = np.asarray(points, dtype=np.float64)
    xs, ys = px(data[:, 0]), py(data[:, 1])
    finite = np.flatnonzero(~np.isnan(data[:, 1]))
    commands: list[str] = []
    dots: list[tuple[float, float]] = []
    for seg in np.split(finite, np.flatnonzero(np.diff(finite) > 1) + 1):
        if len(seg) == 0:
            continue
        if len(seg) == 1:
            dots.append((float(xs[seg[0]]), float(ys[seg[0]])))
            continue
        if len(seg) > 64:
            seg = seg[_m4(xs[seg], ys[seg])]
        pixels = np.column_stack([xs[seg], ys[seg]]).tolist()
        commands.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pixels))
    return " ".join(commands), dots


# ---------------------------------------------------------------------------------------------
# One chart per group


def _auto_smooth(points: int) -> float:
    """EMA weight for a series of ``points`` samples: 0, or 0.6 .. 0.999 growing with length."""
    if points <= 50:
        return 0.0
    return min(0.999, max(0.6, 1.0 - 260.0 / points))


def _group_order(prefix: str) -> tuple[int, str]:
    rank = {"G": 0, "D": 1, "lr": 8, "": 9}
    return rank.get(prefix, 5), prefix


def charts_for_run(
    records: Sequence[Mapping[str, Any]],
    smooth: float | None = None,
    width: int = 640,
    height: int = 280,
) -> list[tuple[str, str]]:
    """One chart per key prefix: ``G/*``, ``D/*``, other ``prefix/*`` groups, ``lr/*`` last.

    Keys without a ``/`` (other than ``step``, ``time``, ``epoch``) go to a final "Other" chart.
    Within a chart a ``*/total`` key comes first.

    Args:
        records: Metric records (see :func:`read_metrics`).
        smooth: EMA weight for the loss charts (never for ``lr``). ``None``: none up to 50
            points, else at least 0.6 and more for long runs (about one effective sample per
            two pixels), as GAN losses are noisy.
        width: Width of every chart in pixels.
        height: Height of every chart in pixels.

    Returns:
        ``(title, svg)`` pairs in display order; empty when there is nothing to plot.

    Raises:
        ConfigError: ``smooth`` is outside [0, 1) or the size is too small to draw in.
    """
    if smooth is not None and not (0.0 <= smooth < 1.0):
        raise ConfigError(f"smooth must be in [0, 1), got {smooth}")
    if width < 120 or height < 80:
        raise ConfigError(f"chart size must be at least 120 x 80 pixels, got {width} x {height}")
    series = _all_series(_by_step(records))
    groups: dict[str, list[str]] = {}
    for key in series:
        prefix = key.split("/", 1)[0] if "/" in key else ""
        groups.setdefault(prefix, []).append(key)
    charts: list[tuple[str, str]] = []
    for prefix in sorted(groups, key=_group_order):
        keys = sorted(groups[prefix], key=lambda k: 0 if k.endswith("/total") else 1)
        title = GROUP_TITLES.get(prefix, prefix or "Other")
        if prefix == "lr":
            amount = 0.0
        elif smooth is None:
            amount = _auto_smooth(max(len(series[k]) for k in keys))
        else:
            amount = smooth
        charts.append((title, _chart({k: series[k] for k in keys}, title, width, height, amount)))
    return charts
