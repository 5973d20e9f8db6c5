"""``i2i eval RUN_OR_CKPT [DATA]``: the family's own evaluation (``ModelSpec.evaluate``)."""

from __future__ import annotations

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
        metrics: str = typer.Option(
            "auto",
            help="network metrics: auto (those whose weights are found) or a list, e.g. fid,kid",
        ),
        inception_weights: Path = typer.Option(
            None, "--inception-weights", help="FID Inception weights file [default: i2i weights]"
        ),
        lpips_weights: Path = typer.Option(
            None, "--lpips-weights", help="LPIPS linear layers file [default: i2i weights]"
        ),
        lpips_backbone: Path = typer.Option(
            None, "--lpips-backbone", help="LPIPS backbone (torchvision) file"
        ),
        lpips_net: str = typer.Option("alex", help="LPIPS network: alex | vgg"),
        protocol: str = typer.Option("tf", help="FID protocol: tf (default) | pytorch-fid | clean"),
        max_images: int = typer.Option(
            0, help="evaluate at most N test images per direction (0 = all)"
        ),
    ) -> None:
        """Evaluate a checkpoint with its family's metrics; writes eval.json, a per-image CSV
        and the images the results page shows."""
        from i2i.api import load_checkpoint
        from i2i.errors import ConfigError
        from i2i.metrics.evaluation import EvalOptions

        options = EvalOptions(
            metrics=() if metrics == "auto" else tuple(m.strip() for m in metrics.split(",")),
            inception_weights=str(inception_weights) if inception_weights else None,
            lpips_weights=str(lpips_weights) if lpips_weights else None,
            lpips_backbone=str(lpips_backbone) if lpips_backbone else None,
            lpips_net=lpips_net,
            protocol=protocol,
            max_images=max_images,
        )
        loaded = load_checkpoint(source, context=ctx, device=device)
        spec = loaded.spec
        if spec.evaluate is None:
            raise ConfigError(f"the '{spec.name}' family has no evaluation (ModelSpec.evaluate)")
        if data is None and not loaded.config.data:
            raise ConfigError(
                f"{source} records no training data (an imported model?); pass the evaluation "
                "data: i2i eval SOURCE DATA"
            )
        data_root = data or Path(loaded.config.data)
        run_dir = loaded.run_dir or loaded.checkpoint.path.parent
        out_dir = out or run_dir / "eval"
        say(evaluate_and_report(ctx, loaded, data_root, out_dir, options))
        if out is None and (run_dir / "config.toml").is_file():
            from i2i.report import write_run_page

            say(f"results page: {write_run_page(run_dir).resolve()}")


def evaluate_and_report(
    ctx: Context, loaded: Any, data_root: Path, out_dir: Path, options: Any = None
) -> str:
    """Run ``loaded``'s family evaluation into ``out_dir`` (``eval.json`` and the family's own
    files); returns the one-line summary (used by ``eval`` and ``demo``).

    When the checkpoint belongs to a run folder, the numbers go to the
    ``i2i_evaluation_done`` hook with the run: its results page and its experiment loggers
    (``train.loggers``) record them at the checkpoint's step.
    """
    from i2i.metrics.evaluation import evaluation_numbers, run_evaluation
    from i2i.tracking import attached

    result = run_evaluation(ctx, loaded, data_root, out_dir, options)
    step = loaded.checkpoint.step
    with attached(ctx, loaded.checkpoint.path, step) as run:
        if run is not None:
            ctx.hook.i2i_evaluation_done(
                run=run, step=step, metrics=evaluation_numbers(result), out_dir=out_dir
            )
    summary = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.items()
        if not isinstance(v, (dict, list)) and k not in ("family", "fid_note", "nearest")
    )
    skipped = result.get("skipped") or {}
    if skipped:
        summary += f"; skipped {', '.join(skipped)} (no weights: i2i weights list)"
    return f"{loaded.spec.name} evaluation: {summary}; report in {out_dir}"
