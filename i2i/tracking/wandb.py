"""Built-in plugin ``wandb``: ``--log wandb`` logs a run to Weights & Biases.

Needs ``pip install 'i2i[wandb]'`` (imported only when a run selects it) and, online, a W&B
login (``wandb login`` or ``WANDB_API_KEY``). ``train.tracking.wandb_mode=offline`` (or
``WANDB_MODE=offline``) writes everything under ``RUN/wandb/`` without any network, for
``wandb sync`` later. The W&B run id is recorded in ``RUN/tracking.json``, so a resumed run
continues the same W&B run. What is logged under which name: docs/tracking.md.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path
from typing import Any

import i2i

#: The modes ``train.tracking.wandb_mode`` accepts (empty: ``$WANDB_MODE``, else online).
MODES = ("", "online", "offline", "disabled")
_ID_CHARS = string.ascii_lowercase + string.digits


class WandbLogger(i2i.ExperimentLogger):
    """Config, metrics, sample grids, evaluation summary, the final model and the status."""

    name = "wandb"
    requires = ("wandb",)
    extra = "wandb"
    has_artifacts = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wb: Any = None

    @classmethod
    def check(cls, run_config: Any) -> None:
        super().check(run_config)
        mode = run_config.train.tracking.wandb_mode
        if mode not in MODES:
            raise i2i.ConfigError(
                f"train.tracking.wandb_mode must be online, offline or disabled, got {mode!r}"
            )

    def open(self) -> None:
        import wandb

        run_id = self.state.get("run_id") or "".join(secrets.choice(_ID_CHARS) for _ in range(8))
        self.state["run_id"] = run_id
        settings = self.settings
        try:
            self.wb = wandb.init(
                project=settings.project or os.environ.get("WANDB_PROJECT") or "i2i",
                entity=settings.wandb_entity or None,
                name=settings.name or self.run.run_dir.resolve().name,
                id=run_id,
                resume="allow",
                dir=str(self.run.run_dir),
                config=self.run.config.to_dict(),
                allow_val_change=True,
                mode=settings.wandb_mode or None,
                reinit="create_new",
                # keep the training's own stdout/stderr untouched
                settings=wandb.Settings(console="off"),
            )
        except (wandb.errors.UsageError, wandb.errors.AuthenticationError) as e:
            raise i2i.ConfigError(f"W&B refused the run: {e}") from None
        if not self.attached:
            resumed_at = self.wb.starting_step - 1 if self.wb.resumed else 0
            self.skip_until = max(int(self.state.get("last_step", 0)), resumed_at)
        self.state.update(
            project=self.wb.project,
            entity=self.wb.entity or "",
            mode="offline" if self.wb.offline else (settings.wandb_mode or "online"),
            dir=str(Path(self.wb.dir).parent),
            url=self.wb.url or "",
        )

    def log_params(self, params: dict[str, Any], config_toml: str) -> None:
        pass  # the config went to wandb.init (nested, as in config.toml)

    def log_metrics(self, records: list[tuple[int, dict[str, float], float]]) -> None:
        for step, values, _ in records:
            self.wb.log(values, step=step)

    def log_image(self, step: int, key: str, image: Any) -> None:
        import wandb

        self.wb.log({key: wandb.Image(image, caption=f"step {step}")}, step=step)

    def log_evaluation(self, step: int, metrics: dict[str, float], out_dir: Path | None) -> None:
        values = {f"eval/{k}": float(v) for k, v in metrics.items()}
        if self.attached or step < self.wb.step:  # W&B steps only grow: the summary holds it
            self.wb.summary.update({**values, "eval/step": step})
        else:
            self.wb.log(values, step=step)

    def log_artifact(self, path: Path, kind: str, step: int) -> None:
        import wandb

        path = Path(path)
        if kind == "model" and path.is_dir():
            path = path / "model.safetensors"
        art = wandb.Artifact(f"{self.wb.name}-{kind}".replace("/", "-"), type=kind)
        art.metadata["step"] = step
        if path.is_dir():
            art.add_dir(str(path))
        else:
            art.add_file(str(path))
        self.wb.log_artifact(art)

    def close(self, status: str | None) -> None:
        if self.wb is None:
            return
        if status is not None:
            self.wb.summary["status"] = status
            if status == "interrupted":  # stopped to be resumed, not broken
                self.wb.mark_preempting()
        self.wb.finish(exit_code=1 if status == "failed" else 0)
        self.wb = None

    def describe(self) -> str:
        if not self.state.get("run_id"):
            return ""
        if self.state.get("mode") == "offline":
            folder = Path(self.state.get("dir", "")).parent
            return (
                f"offline run {self.state['run_id']} in {folder} "
                f"(upload: wandb sync {folder}/offline-run-*-{self.state['run_id']})"
            )
        return f"run {self.state['run_id']} {self.state.get('url', '')}".strip()


@i2i.hookimpl
def i2i_register_loggers(registrar: i2i.Registrar) -> None:
    registrar.add(WandbLogger.name, WandbLogger)
