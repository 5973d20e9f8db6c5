"""Built-in plugin ``results_page``: the HTML results page (``RUN/index.html``) as one more
observer of the run's hooks, beside the experiment loggers.

It records what the page shows that no other file holds: evaluations
(``RUN/evaluations.jsonl``, one line per :func:`~i2i.hookspecs.i2i_evaluation_done`) and files
made from the run (``RUN/artifacts.jsonl``, one line per
:func:`~i2i.hookspecs.i2i_artifact_saved`), and redraws the page when the run starts, when a
sample grid or checkpoint is saved, after an evaluation or export, and when the run ends. Its
hook implementations run last, so the page sees what the other observers wrote.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from i2i.hookspecs import hookimpl
from i2i.training.run import RunInfo

log = logging.getLogger("i2i.train")

EVALUATIONS_FILE = "evaluations.jsonl"
ARTIFACTS_FILE = "artifacts.jsonl"


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def truncate_after(path: Path, step: int) -> None:
    """Drop the lines of a JSON-lines file whose ``step`` is after ``step`` (a resumed run
    redoes those steps)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except (json.JSONDecodeError, AttributeError):
            continue
    path.write_text("".join(x + "\n" for x in keep), encoding="utf-8")


def _rel(path: Path, run_dir: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), run_dir.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(Path(path).resolve())


@hookimpl(trylast=True)
def i2i_train_start(run: RunInfo) -> None:
    if not run.is_main:
        return
    if run.start_step == 0:
        (run.run_dir / EVALUATIONS_FILE).unlink(missing_ok=True)
    else:
        truncate_after(run.run_dir / EVALUATIONS_FILE, run.start_step)
    _page(run)


@hookimpl(trylast=True)
def i2i_samples_saved(run: RunInfo, step: int, path: Path, grid: np.ndarray) -> None:
    _page(run)


@hookimpl(trylast=True)
def i2i_checkpoint_saved(run: RunInfo, path: Path, step: int) -> None:
    _page(run)


@hookimpl(trylast=True)
def i2i_evaluation_done(
    run: RunInfo, step: int, metrics: dict[str, float], out_dir: Path | None
) -> None:
    if not run.is_main:
        return
    record = {
        "step": step,
        "time": _now(),
        "metrics": {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        },
        "out_dir": _rel(out_dir, run.run_dir) if out_dir is not None else None,
    }
    try:
        _append(run.run_dir / EVALUATIONS_FILE, record)
    except OSError as e:
        log.warning("could not record the evaluation in %s: %s", EVALUATIONS_FILE, e)
    _page(run)


@hookimpl(trylast=True)
def i2i_artifact_saved(run: RunInfo, path: Path, kind: str, step: int) -> None:
    if not run.is_main:
        return
    size = Path(path).stat().st_size if Path(path).is_file() else None
    record = {"kind": kind, "path": _rel(path, run.run_dir), "step": step, "size": size}
    record["time"] = _now()
    try:
        _append(run.run_dir / ARTIFACTS_FILE, record)
    except OSError as e:
        log.warning("could not record %s in %s: %s", path, ARTIFACTS_FILE, e)
    _page(run)


@hookimpl(trylast=True)
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
