"""``i2i demo [FAMILY]``: a family's whole job on built-in offline demo data, in a few CPU minutes.

Every family that registers a :class:`i2i.DemoRecipe` (``ModelSpec.demo``) has a demo: its
dataset format's demo data, a small model trained for a couple of minutes, translations of the
test folders and/or the family's evaluation, and the HTML results page.
"""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.common import handle_errors, say
from i2i.manager import Context


def _families_with_demos(ctx: Context) -> list[str]:
    return [name for name in ctx.models.names() if ctx.models.get(name).demo is not None]


def register(app: typer.Typer, ctx: Context) -> None:
    with_demos = _families_with_demos(ctx)

    @app.command("demo")
    @handle_errors
    def demo_cmd(
        family: str = typer.Argument(
            "cyclegan", metavar="FAMILY", help=f"model family: {', '.join(with_demos)}"
        ),
        out: Path = typer.Option(
            None, "--out", "-o", help="where data and run go [default: demo/FAMILY]"
        ),
        steps: int = typer.Option(None, help="training steps [default: the family's demo]"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
        seed: int = typer.Option(0, help="random seed"),
    ) -> None:
        """Make demo data, train a small model, translate / evaluate, show the results page."""
        from i2i.cli.train import run_training
        from i2i.errors import ConfigError
        from i2i.export.translate import record_translations, translate_folder
        from i2i.report import write_run_page

        spec = ctx.models.get(family)
        recipe = spec.demo
        if recipe is None:
            raise ConfigError(
                f"the '{family}' family has no demo; families with one: {', '.join(with_demos)}"
            )
        if steps is not None and steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {steps}")
        out = out or Path("demo") / family
        data, run = out / "data", out / "run"
        if not data.is_dir() or not any(data.iterdir()):
            fmt = ctx.dataset_formats.get(recipe.format or spec.dataset_format)
            if fmt.demo is None:
                raise ConfigError(f"dataset format '{fmt.name}' has no demo data to make")
            say(f"writing '{fmt.name}' demo data to {data}")
            fmt.demo(data, seed)
        if recipe.summary:
            say(f"{family} demo: {recipe.summary}")
        run_training(
            ctx,
            spec,
            data,
            run,
            overrides=list(recipe.overrides),
            train_options={
                "workers": 1,
                **({"format": recipe.format} if recipe.format else {}),
                **recipe.train,
                "steps": steps or recipe.steps,
                "device": device,
                "seed": seed,
            },
            resume=(run / "config.toml").is_file(),
        )
        lines = []
        for direction, folder in recipe.translate:
            res = translate_folder(
                ctx,
                run,
                data / folder,
                run / "translations" / folder,
                direction=direction,
                device=device,
                overwrite=True,
            )
            record_translations(run, res.pairs)
            lines.append(f"translated {len(res.written)} images of {folder} ({direction})")
        if recipe.evaluate and spec.evaluate is not None:
            from i2i.api import load_run
            from i2i.cli.evaluate import evaluate_and_report

            loaded = load_run(run, context=ctx, device=device)
            lines.append(evaluate_and_report(ctx, loaded, data, run / "eval"))
        page = write_run_page(run)
        say("\n".join([*lines, f"results page: {page.resolve()}"]))
