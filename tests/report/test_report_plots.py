"""Tests of i2i.report.plots: reading metrics.jsonl and the inline SVG charts."""

from __future__ import annotations

import json
import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from i2i.errors import ConfigError
from i2i.report import charts_for_run, loss_chart_svg, read_metrics

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def _series_paths(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("class") == "series"]


def _subpaths(path: ET.Element) -> int:
    return (path.get("d") or "").count("M")


def _records(n: int = 20) -> list[dict]:
    return [
        {
            "step": 10 * i,
            "time": 0.5 * i,
            "G/total": 2.0 - i * 0.05,
            "G/gan_A": 0.5 + 0.01 * i,
            "D/total": 0.7,
            "lr/G": 2e-4,
        }
        for i in range(1, n + 1)
    ]


# -- read_metrics ------------------------------------------------------------------------------


def test_read_metrics_tolerates_a_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in _records(3)]
    path.write_text("\n".join(lines) + '\n{"step": 40, "G/tot')
    records = read_metrics(path)
    assert [r["step"] for r in records] == [10, 20, 30]


def test_read_metrics_skips_bad_lines_and_reads_nan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "G/a": NaN}\n\n garbage\n[1, 2]\n{"step": 2, "G/a": Infinity}\n')
    with caplog.at_level(logging.WARNING, logger="i2i.report.plots"):
        records = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2]
    assert math.isnan(records[0]["G/a"]) and math.isinf(records[1]["G/a"])
    assert "line 3" in caplog.text and "line 4" in caplog.text


def test_read_metrics_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_metrics(tmp_path / "nope.jsonl") == []


# -- loss_chart_svg ----------------------------------------------------------------------------


def test_chart_is_well_formed_with_one_path_per_key() -> None:
    keys = ["G/total", "G/gan_A", "D/total"]
    svg = loss_chart_svg(_records(), keys, title="Losses")
    root = _parse(svg)
    paths = _series_paths(root)
    assert [p.get("data-key") for p in paths] == keys
    assert all(_subpaths(p) == 1 for p in paths)
    assert len({p.get("stroke") for p in paths[1:]}) == 2  # distinct colours
    texts = "".join(root.itertext())
    assert "Losses" in texts and "step" in texts
    assert root.get("viewBox") == "0 0 640 280"


def test_default_keys_skip_bookkeeping() -> None:
    root = _parse(loss_chart_svg(_records()))
    keys = [p.get("data-key") for p in _series_paths(root)]
    assert keys == ["G/total", "G/gan_A", "D/total", "lr/G"]


def test_chart_has_axis_ticks_and_legend() -> None:
    root = _parse(loss_chart_svg(_records(), ["G/total"]))
    groups = {g.get("class"): g for g in root.iter(f"{SVG}g")}
    assert {"grid", "axes", "ticks", "legend"} <= set(groups)
    tick_labels = [t.text for t in groups["ticks"].iter(f"{SVG}text")]
    assert "100" in tick_labels and "step" in tick_labels
    legend = "".join(groups["legend"].itertext())
    assert "G/total" in legend and "1" in legend  # last value shown


def test_nan_inf_and_null_make_gaps_missing_keys_do_not() -> None:
    records = [{"step": s, "a": float(s), "b": float(s), "c": float(s)} for s in range(10)]
    records[3]["a"] = float("nan")
    records[6]["b"] = float("inf")
    records[7]["b"] = None
    del records[4]["c"]  # not logged at this step: no gap
    root = _parse(loss_chart_svg(records, ["a", "b", "c"]))
    by_key = {p.get("data-key"): p for p in _series_paths(root)}
    assert _subpaths(by_key["a"]) == 2
    assert _subpaths(by_key["b"]) == 2
    assert _subpaths(by_key["c"]) == 1
    assert "nan" not in (by_key["a"].get("d") or "").lower()


def test_isolated_points_and_single_point() -> None:
    svg = loss_chart_svg([{"step": 5, "G/a": 0.3}], ["G/a"])
    root = _parse(svg)
    (path,) = _series_paths(root)
    assert _subpaths(path) == 0
    dots = [c for c in root.iter(f"{SVG}circle") if c.get("data-key") == "G/a"]
    assert len(dots) == 1
    records = [{"step": 1, "a": 1.0}, {"step": 2, "a": math.nan}, {"step": 3, "a": 2.0}]
    root = _parse(loss_chart_svg(records, ["a"]))
    assert len(list(root.iter(f"{SVG}circle"))) == 2


def test_empty_records_and_all_nan_key() -> None:
    root = _parse(loss_chart_svg([]))
    assert "no data yet" in "".join(root.itertext())
    root = _parse(loss_chart_svg([{"step": 1, "a": math.nan}], ["a", "missing"]))
    assert len(_series_paths(root)) == 2
    assert "(no data)" in "".join(root.itertext())


def test_text_is_escaped() -> None:
    records = [{"step": 1, "G/<b>&": 1.0}, {"step": 2, "G/<b>&": 2.0}]
    svg = loss_chart_svg(records, title='<script>"x"</script>')
    assert "<script>" not in svg
    root = _parse(svg)
    assert _series_paths(root)[0].get("data-key") == "G/<b>&"
    assert '<script>"x"</script>' in "".join(root.itertext())


def test_smoothing_draws_raw_faintly_and_validates() -> None:
    records = [{"step": s, "a": float(s % 2)} for s in range(100)]
    root = _parse(loss_chart_svg(records, ["a"], smooth=0.9))
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "raw"]) == 1
    assert len(_series_paths(root)) == 1
    plain = _parse(loss_chart_svg(records, ["a"]))
    assert not [p for p in plain.iter(f"{SVG}path") if p.get("class") == "raw"]
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError):
            loss_chart_svg(records, ["a"], smooth=bad)


def test_resumed_run_replaces_relogged_steps() -> None:
    first = [{"step": s, "a": 1.0} for s in range(1, 11)]
    resumed = [{"step": s, "a": 2.0} for s in range(6, 9)]
    root = _parse(loss_chart_svg(first + resumed, ["a"]))
    tip = _series_paths(root)[0].find(f"{SVG}title").text
    assert "(8 points)" in tip and "last 2" in tip


def test_many_points_are_decimated() -> None:
    records = [{"step": s, "a": math.sin(s / 50.0)} for s in range(50_000)]
    svg = loss_chart_svg(records, ["a"])
    root = _parse(svg)
    assert len(_series_paths(root)) == 1
    assert len(svg) < 60_000


# -- charts_for_run ----------------------------------------------------------------------------


def test_charts_for_run_groups_by_prefix() -> None:
    records = []
    for r in _records():
        gan = r.pop("G/gan_A")
        records.append({"G/gan_A": gan, **r, "SR/psnr": 20.0, "skipped": 0})
    charts = charts_for_run(records)
    titles = [t for t, _ in charts]
    assert titles == ["Generator losses", "Discriminator losses", "SR", "Learning rates", "Other"]
    keys = {t: [p.get("data-key") for p in _series_paths(_parse(svg))] for t, svg in charts}
    assert keys["Generator losses"] == ["G/total", "G/gan_A"]
    assert keys["Learning rates"] == ["lr/G"]
    assert keys["Other"] == ["skipped"]
    assert charts_for_run([]) == []
