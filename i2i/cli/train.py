"""``i2i train FAMILY DATA``: one sub-command per registered model family."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from i2i.cli.common import err_console, handle_errors, say
from i2i.config import describe
from i2i.errors import ConfigError, Interrupted
from i2i.hookspecs import hookimpl
from i2i.manager import Context
from i2i.specs import ModelSpec
from i2i.training.checkpoint import list_checkpoints
from i2i.training.run import RunInfo, load_run_config_file, resolve_run_config


class ProgressObserver:
    """A rich progress bar fed by the observer hooks (registered by the CLI only)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} steps"),
            TextColumn("{task.fields[losses]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        self.task: Any = None

    @hookimpl
    def i2i_train_start(self, run: RunInfo) -> None:
        if not run.is_main:
            return
        self.progress.start()
        self.task = self.progress.add_task(
            f"train {run.family}", total=run.total_steps, completed=run.start_step, losses=""
        )

    @hookimpl
    def i2i_train_step_end(self, run: RunInfo, step: int, logs: dict[str, float]) -> None:
        if self.task is None:
            return
        losses = " ".join(f"{k}={v:.3f}" for k, v in logs.items() if k.endswith("/total"))
        self.progress.update(self.task, completed=step, losses=losses)

    @hookimpl
    def i2i_train_end(self, run: RunInfo, step: int, status: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=step)
            self.progress.stop()
            self.task = None


def run_training(
    ctx: Context,
    spec: ModelSpec,
    data: Path,
    out: Path,
    *,
    config: Path | None = None,
    overrides: list[str] | None = None,
    train_options: dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool = True,
) -> RunInfo:
    """Resolve the config, check the run directory and train (used by ``train`` and ``demo``).

    With ``resume``, a run directory that holds no run yet starts a new run (so a requeued job
    script can always pass ``--resume``).

    Raises:
        ConfigError: the run directory holds a run and ``resume`` is off, or it holds a run of
            another family.
        Interrupted: a signal (or a plugin) stopped the run; its checkpoint is saved and
            ``exit_code`` is 128 + the signal (130 SIGINT, 143 SIGTERM), so ``i2i train ... &&
            i2i export ...`` does not go on with a half-trained model.
    """
    from i2i.training.trainer import Trainer

    has_run = bool(list_checkpoints(out / "checkpoints"))
    saved = None
    if resume and not (out / "config.toml").is_file():
        logging.getLogger(__name__).info("nothing to resume in %s: starting a new run", out)
    elif resume:
        saved = load_run_config_file(out)
        if saved.get("family") != spec.name:
            raise ConfigError(
                f"--resume: {out} is a '{saved.get('family')}' run, not '{spec.name}'"
            )
    elif has_run:
        raise ConfigError(
            f"{out} already holds a trained run; pass --resume to continue it or choose a new --out"
        )
    run_config = resolve_run_config(
        spec,
        data,
        config_file=config,
        train_options=train_options,
        overrides=overrides or [],
        saved=saved,
    )
    if saved is not None:
        from i2i.config import to_dict

        if to_dict(run_config.model) != to_dict(resolve_run_config(spec, data, saved=saved).model):
            raise ConfigError(
                "--resume cannot change the model config (architecture, losses); "
                "only train.* settings such as --steps may change"
            )
    from i2i.training import distributed

    rank = distributed.env_info()
    if not rank.is_main:  # other ranks of a torchrun job: warnings only, no progress bar
        logging.getLogger().setLevel(logging.WARNING)
        progress = False
    observer = ProgressObserver() if progress else None
    if observer is not None:
        ctx.pm.register(observer, name="cli-progress")
    try:
        trainer = Trainer(ctx, run_config, out, resume=resume and has_run)
        info = trainer.fit()
    finally:
        if observer is not None:
            if observer.task is not None:
                observer.progress.stop()
            ctx.pm.unregister(observer)
        distributed.teardown()
    if info.status == "interrupted":
        raise Interrupted(f"training {info.message}", info.stop_signal)
    return info


def _epilog(spec: ModelSpec) -> str:
    """The family's config keys for ``i2i train FAMILY --help`` (rich markup escaped)."""
    lines = [
        f"Family options of {spec.name} (--set KEY=VALUE, or the \\[model] table of --config):"
    ]
    for key, default, help_ in describe(spec.config_cls):
        lines.append(f"  {key} = {default}  -- {help_}")
    lines.append(
        "Trainer options: --set train.KEY=VALUE; `i2i models " + spec.name + "` lists all."
    )
    return "\n\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:-1]) + "\n\n" + lines[-1]


def _make_command(ctx: Context, spec: ModelSpec) -> Any:
    def command(
        data: Path = typer.Argument(
            ..., metavar="DATA", help=f"dataset folder ({spec.dataset_format} format)"
        ),
        out: Path = typer.Option(None, "--out", "-o", help="run directory [default: runs/FAMILY]"),
        steps: int = typer.Option(None, help="optimizer steps to run"),
        epochs: int = typer.Option(None, help="epochs to run (when --steps is not given)"),
        size: int = typer.Option(None, help="training crop size in pixels"),
        batch_size: int = typer.Option(None, "--batch-size", "-b", help="images per batch"),
        seed: int = typer.Option(None, help="random seed"),
        device: str = typer.Option(None, help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option(None, help="auto (bf16 on GPUs) | fp32 | bf16 | fp16"),
        sync_bn: bool = typer.Option(None, "--sync-bn", help="torchrun on GPUs: SyncBatchNorm"),
        compile_: bool = typer.Option(None, "--compile", help="torch.compile the networks"),
        channels_last: bool = typer.Option(
            None, "--channels-last", help="channels_last memory format (GPUs with AMP)"
        ),
        workers: int = typer.Option(None, help="DataLoader worker processes"),
        format: str = typer.Option(  # noqa: A002
            None, "--format", "-f", help=f"dataset format [default: {spec.dataset_format}]"
        ),
        strict: bool = typer.Option(None, "--strict/--no-strict", help="fail on corrupt images"),
        eval_every: int = typer.Option(
            None, "--eval-every", help="evaluate every N steps (FID curve, best checkpoint kept)"
        ),
        config: Path = typer.Option(None, "--config", "-c", help="TOML config file"),
        set_: list[str] = typer.Option(
            [], "--set", "-s", help="override a config key: generator.ngf=8, train.log_every=5"
        ),
        resume: bool = typer.Option(False, "--resume", help="continue the run in --out"),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
        log: list[str] = typer.Option(
            None,
            "--log",
            help="log to an experiment tracker too: tensorboard | mlflow | wandb (repeatable; "
            "train.loggers; settings: train.tracking.*, docs/tracking.md)",
        ),
    ) -> None:
        out_dir = out or Path("runs") / spec.name
        if epochs is not None and steps is None:
            steps = 0
        opts = {
            "steps": steps,
            "epochs": epochs,
            "size": size,
            "batch_size": batch_size,
            "seed": seed,
            "device": device,
            "precision": precision,
            "workers": workers,
            "strict": strict,
            "format": format,
            "sync_bn": sync_bn,
            "compile": compile_,
            "channels_last": channels_last,
            "loggers": list(log) if log else None,
            "eval_every": eval_every,
        }
        info = run_training(
            ctx,
            spec,
            data,
            out_dir,
            config=config,
            overrides=list(set_),
            train_options={k: v for k, v in opts.items() if v is not None},
            resume=resume,
            progress=not no_progress,
        )
        if not info.is_main:
            return
        warned = f" with {len(info.warnings)} warning(s) (see status.json)" if info.warnings else ""
        page = out_dir / "index.html"
        say(f"{spec.name} run finished{warned} in {out_dir}; results page: {page}")

    command.__doc__ = f"Train {spec.name}: {spec.summary}."
    return handle_errors(command)


def register(app: typer.Typer, ctx: Context) -> None:
    train_app = typer.Typer(help="Train a model family on a dataset folder.", no_args_is_help=True)
    for name, spec in ctx.models.items():
        train_app.command(name, epilog=_epilog(spec), help=f"Train {name}: {spec.summary}.")(
            _make_command(ctx, spec)
        )
    app.add_typer(train_app, name="train")
