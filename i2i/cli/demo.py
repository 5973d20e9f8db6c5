"""``i2i demo``: the whole job on built-in offline demo data, in about two minutes on a CPU."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.app import handle_errors, say
from i2i.manager import Context

#: A small CycleGAN that learns the demo relation in a couple of CPU minutes.
DEMO_OVERRIDES = (
    "generator.ngf=16",
    "generator.n_blocks=4",
    "discriminator.ndf=16",
    "discriminator.n_layers=2",
    "pool_size=20",
    "train.log_every=10",
    "train.sample_every=100",
    "train.checkpoint_every=200",
)


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("demo")
    @handle_errors
    def demo_cmd(
        out: Path = typer.Option(Path("demo"), "--out", "-o", help="where data and run go"),
        steps: int = typer.Option(800, help="training steps (about 2 minutes on 2 CPU cores)"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
        seed: int = typer.Option(0, help="random seed"),
    ) -> None:
        """Make demo data, train a small CycleGAN, translate the test folder, show the results."""
        from i2i.cli.train import run_training
        from i2i.export.translate import record_translations, translate_folder
        from i2i.report import write_run_page

        data, run = out / "data", out / "run"
        fmt = ctx.dataset_formats.get("unpaired")
        if not (data / "trainA").is_dir():
            say(f"writing demo data to {data}")
            fmt.demo(data, seed)
        spec = ctx.models.get("cyclegan")
        resume = (run / "config.toml").is_file()
        run_training(
            ctx,
            spec,
            data,
            run,
            overrides=list(DEMO_OVERRIDES),
            train_options={
                "steps": steps,
                "size": 64,
                "load_size": 72,
                "batch_size": 2,
                "device": device,
                "seed": seed,
                "workers": 1,
            },
            resume=resume,
        )
        results = {}
        for direction, folder in (("AtoB", "testA"), ("BtoA", "testB")):
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
            results[direction] = len(res.written)
        page = write_run_page(run)
        say(
            f"translated {results['AtoB']} test images A->B and {results['BtoA']} B->A\n"
            f"results page: {page.resolve()}"
        )
