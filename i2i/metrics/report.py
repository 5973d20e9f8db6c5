"""Per-image metric tables: a CSV with one row per image plus a ``mean`` row, and the summary.

Rows are plain mappings (``{"image": "0801.png", "psnr_y": 30.12, "ssim_y": 0.871}``) or
:class:`MetricRow` objects. The columns are the keys in order of first appearance.

Averages (the ``mean`` row of the CSV and :func:`summarize`) are the mean of the **finite**
values of each numeric column: an image identical to its reference has a PSNR of ``inf`` and is
written as ``inf`` in its own row, but leaves the mean PSNR finite (a single ``inf`` would
otherwise swamp it). When a column holds no finite value at all, its mean is that value if all
its values are the same infinity, else ``nan``.

Example:
    >>> rows = [{"image": "a.png", "psnr": 30.0}, {"image": "b.png", "psnr": float("inf")}]
    >>> summarize(rows)
    {'psnr': 30.0}
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import numbers
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from i2i.errors import InputError

__all__ = ["MEAN_LABEL", "MetricRow", "summarize", "write_csv"]

#: The label of the last CSV row, which holds the column means.
MEAN_LABEL = "mean"


@dataclass(frozen=True)
class MetricRow:
    """The metrics of one image.

    Attributes:
        name: The image's name (usually its path relative to the evaluated folder).
        values: Metric name -> value, e.g. ``{"psnr_y": 30.1, "ssim_y": 0.87}``.

    Example:
        >>> MetricRow("0801.png", {"psnr": 31.5}).as_dict()
        {'image': '0801.png', 'psnr': 31.5}
    """

    name: str
    values: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self, key: str = "image") -> dict[str, object]:
        """The row as a mapping: ``{key: name, **values}``.

        Args:
            key: The column that holds the name.

        Returns:
            A new dict.
        """
        return {key: self.name, **self.values}


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _as_dicts(
    rows: Sequence[Mapping[str, object] | MetricRow], key: str
) -> list[Mapping[str, object]]:
    out: list[Mapping[str, object]] = []
    for i, row in enumerate(rows):
        if isinstance(row, MetricRow):
            out.append(row.as_dict(key))
        elif isinstance(row, Mapping):
            out.append(row)
        else:
            raise InputError(f"row {i} is a {type(row).__name__}; expected a mapping or MetricRow")
    return out


def _columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for k in row:
            seen.setdefault(str(k), None)
    return list(seen)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        return math.fsum(finite) / len(finite)
    if values and all(v == values[0] for v in values) and math.isinf(values[0]):
        return values[0]
    return math.nan


def _numeric_columns(
    rows: Sequence[Mapping[str, object]], columns: list[str]
) -> dict[str, list[float]]:
    """Columns whose present values are all numbers (bools excluded) -> their values."""
    numeric: dict[str, list[float]] = {}
    for col in columns:
        present = [row[col] for row in rows if col in row and row[col] is not None]
        if present and all(_is_number(v) for v in present):
            numeric[col] = [float(v) for v in present]  # type: ignore[arg-type]
    return numeric


def summarize(rows: Sequence[Mapping[str, object] | MetricRow]) -> dict[str, float]:
    """The mean of every numeric column over the finite values (see the module docstring).

    Args:
        rows: Per-image rows (mappings or :class:`MetricRow`). A column is numeric when every
            row that has it holds a number (not a bool); other columns (names) are skipped.

    Returns:
        Column -> mean, in column order. Empty for no rows.

    Raises:
        InputError: A row is neither a mapping nor a :class:`MetricRow`.
    """
    dicts = _as_dicts(rows, "image")
    return {col: _mean(vals) for col, vals in _numeric_columns(dicts, _columns(dicts)).items()}


def _fmt(value: object, precision: int) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if _is_number(value):
        return f"{float(value):.{precision}f}"  # type: ignore[arg-type]  # inf / nan as "inf" / "nan"
    return str(value)


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_csv(
    rows: Sequence[Mapping[str, object] | MetricRow],
    path: str | os.PathLike[str],
    *,
    key: str = "image",
    precision: int = 6,
) -> Path:
    """Write per-image rows and a final ``mean`` row to a CSV file, atomically.

    The file is written to a temporary file next to ``path`` and moved into place with
    :func:`os.replace`, so a reader never sees half a table.

    Args:
        rows: Per-image rows (mappings or :class:`MetricRow`), in the order to write them.
        path: The CSV file; missing parent folders are created.
        key: The column that names the image; the last row holds ``"mean"`` there. It becomes
            the first column when the rows do not have it.
        precision: Decimals written for floats (``inf`` and ``nan`` are written as such).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: ``rows`` is empty or holds something other than mappings.

    Example:
        >>> write_csv([MetricRow("a.png", {"psnr": 30.0})], "eval.csv")  # doctest: +SKIP
        PosixPath('eval.csv')
    """
    dicts = _as_dicts(rows, key)
    if not dicts:
        raise InputError(f"no rows to write to {os.fspath(path)}; evaluate at least one image")
    columns = _columns(dicts)
    if key not in columns:
        columns.insert(0, key)
    means = {col: _mean(vals) for col, vals in _numeric_columns(dicts, columns).items()}
    mean_row: dict[str, object] = {col: means.get(col) for col in columns}
    mean_row[key] = MEAN_LABEL

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in [*dicts, mean_row]:
        writer.writerow([_fmt(row.get(col), precision) for col in columns])
    out = Path(path)
    _atomic_write_text(out, buf.getvalue())
    return out
