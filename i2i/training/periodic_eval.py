"""Evaluation during training (``--eval-every N``): the family's ``i2i eval`` on checkpoints.

Every ``N`` steps the trainer saves a checkpoint; this observer evaluates it with the family's
``ModelSpec.evaluate`` (the run's data, its test split; metric networks from the local weight
files, "auto": those whose weights are found) and hands the result to :func:`report_evaluation`,
which appends a line to ``RUN/eval/history.jsonl`` and keeps the best step: ``RUN/checkpoints/
best`` names the checkpoint with the best headline score (``"score"`` of the result, e.g. the
lowest FID) and checkpoint pruning never deletes it. The results page draws the score over the
steps with the best step marked.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from i2i.hookspecs import hookimpl
from i2i.report.evaluation import read_history
from i2i.training.checkpoint import BEST, checkpoint_name
from i2i.training.run import RunInfo

__all__ = ["BEST", "PeriodicEvaluation", "read_history", "report_evaluation"]

log = logging.getLogger("i2i.train")


def _better(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    if b is None:
        return True
    lower = bool(a.get("lower_is_better", True))
    return a["value"] < b["value"] if lower else a["value"] > b["value"]


def report_evaluation(run: RunInfo, step: int, result: dict[str, Any]) -> None:
    """Record one evaluation of a training run: history line, best checkpoint, results page.

    This is the one place where in-training evaluation results leave the evaluator.
    """
    from i2i.report import write_run_page
    from i2i.training.checkpoint import write_text_atomic

    eval_dir = run.run_dir / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)
    flat = {k: v for k, v in result.items() if isinstance(v, (int, float, str)) or v is None}
    rec = {"step": step, **flat, "score": result.get("score")}
    history = [h for h in read_history(run.run_dir) if h["step"] < step]
    with open(eval_dir / "history.jsonl", "w", encoding="utf-8") as f:
        for h in [*history, rec]:
            f.write(json.dumps(h) + "\n")
    best = None
    for h in [*history, rec]:
        if isinstance(h.get("score"), dict) and _better(h["score"], best and best["score"]):
            best = h
    ckpt_root = run.run_dir / "checkpoints"
    if best is not None and (ckpt_root / checkpoint_name(best["step"])).is_dir():
        write_text_atomic(ckpt_root / BEST, checkpoint_name(best["step"]) + "\n")
    s = result.get("score") or {}
    log.info(
        "evaluation at step %d: %s=%s%s",
        step,
        s.get("name", "score"),
        f"{s['value']:.4g}" if "value" in s else "n/a",
        f" (best: step {best['step']})" if best is not None else "",
    )
    try:
        write_run_page(run.run_dir)
    except OSError as e:  # the page is a convenience
        log.warning("could not write the results page: %s", e)


class PeriodicEvaluation:
    """Observer plugin: evaluate every ``every``-th step's checkpoint (and the last one).

    Args:
        ctx: The plugin context (to rebuild the model and read the data).
        every: Evaluate at steps that are multiples of this.
        options: :class:`~i2i.metrics.evaluation.EvalOptions` (images are not saved).
    """

    def __init__(self, ctx: Any, every: int, options: Any = None) -> None:
        from i2i.metrics.evaluation import EvalOptions

        self.ctx = ctx
        self.every = every
        self.options = options or EvalOptions(save_images=False)

    @hookimpl
    def i2i_checkpoint_saved(self, run: RunInfo, path: Path, step: int) -> None:
        if not run.is_main or (step % self.every and step != run.total_steps):
            return
        if run.family and self.ctx.models.get(run.family).evaluate is None:
            return
        from i2i.metrics.evaluation import evaluation_numbers, run_evaluation
        from i2i.training import runtime
        from i2i.training.checkpoint import load_model

        loaded = load_model(self.ctx, path, runtime.resolve_device(run.config.train.device))
        out_dir = run.run_dir / "eval" / "steps" / checkpoint_name(step)
        result = run_evaluation(self.ctx, loaded, Path(run.config.data), out_dir, self.options)
        report_evaluation(run, step, result)
        # the results page's table of evaluations and the run's experiment loggers
        self.ctx.hook.i2i_evaluation_done(
            run=run, step=step, metrics=evaluation_numbers(result), out_dir=out_dir
        )
