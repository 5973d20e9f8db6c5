"""Built-in plugin ``tensorboard``: ``--log tensorboard`` writes TensorBoard event files.

Needs ``pip install 'i2i[tensorboard]'`` (imported only when a run selects it). Events go to
``RUN/tensorboard/`` (``train.tracking.tensorboard_dir``, relative to the run folder), so
``tensorboard --logdir runs`` compares every run under ``runs/``. A resumed run writes a new
event file into the same folder with TensorBoard's purge marker at the resume step: the reader
discards what the interrupted attempt logged after its last checkpoint, so no step appears
twice. What is logged under which name: docs/tracking.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import i2i

#: Seconds between flushes of the event file (what a live TensorBoard can lag behind).
FLUSH_SECS = 30


class TensorBoardLogger(i2i.ExperimentLogger):
    """Scalars, sample grids, config (text and HParams) and status into TensorBoard files."""

    name = "tensorboard"
    requires = ("tensorboard",)
    extra = "tensorboard"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writer: Any = None
        self._hparams: dict[str, Any] | None = None
        self._last_step = self.run.start_step

    def logdir(self) -> Path:
        sub = self.settings.tensorboard_dir or "tensorboard"
        return (self.run.run_dir / sub).resolve()

    def open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        logdir = self.logdir()
        # resumed training: the reader drops what the interrupted attempt logged from here on
        purge = self.run.start_step + 1 if self.run.start_step > 0 and not self.attached else None
        self.writer = SummaryWriter(str(logdir), purge_step=purge, flush_secs=FLUSH_SECS)
        self.state["logdir"] = str(logdir)

    def log_params(self, params: dict[str, Any], config_toml: str) -> None:
        text = "\n".join("    " + line for line in config_toml.splitlines())  # markdown code
        self.writer.add_text("config", text, self.run.start_step)
        self._hparams = {k: v for k, v in params.items() if isinstance(v, (bool, int, float, str))}

    def log_metrics(self, records: list[tuple[int, dict[str, float], float]]) -> None:
        if self._hparams is not None:  # the HParams table's metric columns: the loss totals
            self._write_hparams(sorted(k for k in records[0][1] if k.endswith("/total")))
        for step, values, wall in records:
            for key, value in values.items():
                self.writer.add_scalar(key, value, step, walltime=wall)
            self._last_step = max(self._last_step, step)

    def _write_hparams(self, metrics: list[str]) -> None:
        from torch.utils.tensorboard.summary import hparams

        exp, ssi, _ = hparams(self._hparams, dict.fromkeys(metrics, 0.0))
        fw = self.writer.file_writer
        for summary in (exp, ssi):
            fw.add_summary(summary, self.run.start_step)
        self._hparams = None

    def log_image(self, step: int, key: str, image: Any) -> None:
        self.writer.add_image(key, image, step, dataformats="HWC")
        self._last_step = max(self._last_step, step)

    def close(self, status: str | None) -> None:
        if self.writer is None:
            return
        if status is not None:
            step = max(self._last_step, int(self.state.get("last_step", 0)))
            # one text per attempt: TensorBoard keeps what was written (the HParams session
            # status could not change when a failed attempt is resumed, so none is written)
            self.writer.add_text("status", f"{status} at step {step}", step)
        self.writer.close()
        self.writer = None

    def describe(self) -> str:
        logdir = self.state.get("logdir") or str(self.logdir())
        return f"event files in {logdir} (tensorboard --logdir {Path(logdir).parent.parent})"


@i2i.hookimpl
def i2i_register_loggers(registrar: i2i.Registrar) -> None:
    registrar.add(TensorBoardLogger.name, TensorBoardLogger)
