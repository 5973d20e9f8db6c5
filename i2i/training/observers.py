"""Built-in observer plugin: ``metrics.jsonl``, console log lines and the HTML results page.

Other logging backends (CSV, TensorBoard, ...) are plugins on the same hooks.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from i2i.hookspecs import hookimpl
from i2i.training.run import RunInfo

log = logging.getLogger("i2i.train")


def _clean(v: float) -> float | None:
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


@hookimpl
def i2i_train_start(run: RunInfo) -> None:
    if not run.is_main:
        return
    if run.start_step == 0:
        (run.run_dir / "metrics.jsonl").unlink(missing_ok=True)
    else:  # resumed: drop lines logged after the checkpoint we resumed from
        _truncate_after(run.run_dir / "metrics.jsonl", run.start_step)
    _page(run)


def _truncate_after(path: Path, step: int) -> None:
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:
            continue
    path.write_text("".join(x + "\n" for x in keep), encoding="utf-8")


@hookimpl
def i2i_train_step_end(run: RunInfo, step: int, logs: dict[str, float]) -> None:
    if not run.is_main:
        return
    rec = {"step": step, **{k: _clean(v) for k, v in logs.items()}}
    with open(run.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
    terms = " ".join(
        f"{k}={v:.4g}" for k, v in logs.items() if k.endswith("/total") and v is not None
    )
    log.info(
        "step %d/%d %s (%.3f s/step)",
        step,
        run.total_steps,
        terms,
        logs.get("sec_per_step", float("nan")),
    )


@hookimpl
def i2i_checkpoint_saved(run: RunInfo, path: Path, step: int) -> None:
    log.info("checkpoint saved: %s", path)
    _page(run)


@hookimpl
def i2i_train_end(run: RunInfo, step: int, status: str) -> None:
    _page(run)


def _page(run: RunInfo) -> None:
    if not run.is_main:
        return
    from i2i.report import write_run_page

    try:
        write_run_page(run.run_dir)
    except OSError as e:  # the page is a convenience: never fail a run for it
        log.warning("could not write the results page: %s", e)
