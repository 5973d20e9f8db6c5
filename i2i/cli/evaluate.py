"""``i2i eval RUN_OR_CKPT [DATA]``: the family's own evaluation (``ModelSpec.evaluate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from i2i.cli.common import handle_errors, say
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("eval")
    @handle_errors
    def eval_cmd(
        source: Path = typer.Argument(..., metavar="SOURCE", help="run or checkpoint"),
        data: Path = typer.Argument(
            None, metavar="DATA", help="evaluation data (default: the run's training data)"
        ),
        out: Path = typer.Option(None, "--out", "-o", help="report folder [default: RUN/eval]"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
    ) -> None:
        """Evaluate a checkpoint with its family's metrics; writes a JSON and CSV report."""
        from i2i.api import load_checkpoint
        from i2i.errors import ConfigError

        loaded = load_checkpoint(source, context=ctx, device=device)
        spec = loaded.spec
        if spec.evaluate is None:
            raise ConfigError(f"the '{spec.name}' family has no evaluation (ModelSpec.evaluate)")
        data_root = data or Path(loaded.config.data)
        out_dir = out or (loaded.run_dir or loaded.checkpoint.path.parent) / "eval"
        say(evaluate_and_report(ctx, loaded, data_root, out_dir))


def evaluate_and_report(ctx: Context, loaded: Any, data_root: Path, out_dir: Path) -> str:
    """Run ``loaded``'s family evaluation into ``out_dir`` (``eval.json`` and the family's own
    files); returns the one-line summary (used by ``eval`` and ``demo``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result = loaded.spec.evaluate(ctx, loaded, data_root, out_dir)
    (out_dir / "eval.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    summary = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.items()
        if not isinstance(v, (dict, list))
    )
    return f"{loaded.spec.name} evaluation: {summary}; report in {out_dir}"
