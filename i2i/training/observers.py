"""Built-in observer plugin ``metrics_log``: ``metrics.jsonl`` and the console log lines.

The HTML results page (:mod:`i2i.tracking.report`) and the experiment loggers (TensorBoard,
MLflow, W&B in :mod:`i2i.tracking`) are plugins on the same hooks.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from i2i.hookspecs import hookimpl
from i2i.tracking.report import truncate_after
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
        truncate_after(run.run_dir / "metrics.jsonl", run.start_step)


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
