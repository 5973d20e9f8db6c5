"""Run configuration (what ran) and run information (what observers see)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from i2i.config import (
    TrainConfig,
    effective_load_size,
    from_dict,
    load_toml,
    merge,
    overrides_to_dict,
    to_dict,
)
from i2i.errors import ConfigError
from i2i.files import atomic_write_text
from i2i.manager import Context
from i2i.specs import DataOptions, ModelSpec


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run; saved as ``RUN/config.toml``.

    Attributes:
        family: Model family name.
        data: Dataset root folder.
        train: Generic trainer settings.
        model: The family's config dataclass instance.
    """

    family: str
    data: str
    train: TrainConfig
    model: Any

    def to_dict(self) -> dict[str, Any]:
        from i2i import __version__

        return {
            "family": self.family,
            "data": self.data,
            "i2i_version": __version__,
            "train": to_dict(self.train),
            "model": to_dict(self.model),
        }

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`i2i.files.atomic_write_text`)."""
    atomic_write_text(path, text)


def _split_overrides(overrides: Mapping[str, Any]) -> tuple[dict, dict]:
    for key in ("train", "model"):
        if not isinstance(overrides.get(key, {}), Mapping):
            raise ConfigError(
                f"'{key}' must be a table of settings ([{key}] in a config file, --set "
                f"{key}.KEY=VALUE), got {overrides[key]!r:.60}"
            )
    train = dict(overrides.get("train", {}))
    model = dict(overrides.get("model", {}))
    for k, v in overrides.items():
        if k in ("train", "model"):
            continue
        if k in ("family", "data", "i2i_version"):
            continue
        model = merge(model, {k: v})
    return train, model


def resolve_run_config(
    spec: ModelSpec,
    data: str | Path,
    *,
    config_file: str | Path | None = None,
    train_options: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    saved: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Build the frozen run config: defaults < saved run < config file < CLI options < ``--set``.

    ``--set`` keys are dotted paths into the family config (``generator.ngf=8``); keys starting
    with ``train.`` go to the trainer settings (``train.log_every=5``).

    Args:
        spec: The model family.
        data: Dataset root.
        config_file: Optional TOML file with ``[train]`` and ``[model]`` tables.
        train_options: Trainer options given on the command line (only those set).
        overrides: ``key=value`` strings.
        saved: The dict of a saved run's config.toml (when resuming).

    Raises:
        ConfigError: unknown keys, wrong types, or a config file for another family.
    """
    train_d: dict[str, Any] = merge(to_dict(TrainConfig()), dict(spec.default_train))
    model_d: dict[str, Any] = to_dict(spec.config_cls())
    if saved is not None:
        train_d = merge(train_d, saved.get("train", {}))
        model_d = merge(model_d, saved.get("model", {}))
    if config_file is not None:
        file_d = load_toml(config_file)
        fam = file_d.get("family")
        if fam is not None and fam != spec.name:
            raise ConfigError(
                f"config file {config_file} is for family '{fam}', not '{spec.name}'; "
                "remove its 'family' key or train that family"
            )
        t, m = _split_overrides(file_d)
        train_d, model_d = merge(train_d, t), merge(model_d, m)
    if train_options:
        train_d = merge(train_d, {k: v for k, v in train_options.items() if v is not None})
    t, m = _split_overrides(overrides_to_dict(overrides))
    train_d, model_d = merge(train_d, t), merge(model_d, m)
    train = from_dict(TrainConfig, train_d, prefix="train.")
    model = from_dict(spec.config_cls, model_d)
    return RunConfig(family=spec.name, data=str(data), train=train, model=model)


def run_config_from_dict(ctx: Context, d: Mapping[str, Any]) -> RunConfig:
    """Rebuild a :class:`RunConfig` from its saved dict (config.toml or checkpoint metadata)."""
    try:
        family = d["family"]
    except KeyError:
        raise ConfigError("saved run config has no 'family' key; the file is damaged") from None
    if not isinstance(family, str):
        raise ConfigError(f"saved run config: 'family' must be a name, got {family!r:.60}")
    spec = ctx.models.get(family)
    for key in ("train", "model"):
        if not isinstance(d.get(key, {}), Mapping):
            raise ConfigError(f"saved run config: '{key}' must be a table of settings")
    train = from_dict(TrainConfig, d.get("train", {}), prefix="train.")
    model = from_dict(spec.config_cls, d.get("model", {}))
    return RunConfig(family=family, data=str(d.get("data", "")), train=train, model=model)


def load_run_config_file(run_dir: Path) -> dict[str, Any]:
    """The raw dict of ``RUN/config.toml``."""
    return load_toml(run_dir / "config.toml")


@dataclasses.dataclass
class RunInfo:
    """What observers receive about a run.

    Attributes:
        run_dir: The run directory.
        config: The resolved run config.
        total_steps: Steps the run will take in all.
        start_step: Step it started (or resumed) at.
        steps_per_epoch: Optimizer steps per epoch.
        rank: Process rank (0 writes files).
        world_size: Number of processes.
        stop_reason: Why the run was asked to stop early (None: it was not).
        stop_signal: The signal that asked for the stop (None: no signal, e.g. a plugin).
        skipped_images: Unreadable images skipped so far.
        warnings: Warnings recorded in ``status.json`` (e.g. diverging losses).
        status: ``running`` while training; at the end ``completed``, ``interrupted`` or
            ``failed``.
        message: The end's one-line explanation (what stopped it, what was saved).
    """

    run_dir: Path
    config: RunConfig
    total_steps: int
    start_step: int = 0
    steps_per_epoch: int = 1
    rank: int = 0
    world_size: int = 1
    stop_reason: str | None = None
    skipped_images: int = 0
    stop_signal: int | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    status: str = "running"
    message: str = ""

    @property
    def family(self) -> str:
        return self.config.family

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def request_stop(self, reason: str = "stop requested by a plugin") -> None:
        """Ask the trainer to save a checkpoint and stop after the current step."""
        self.stop_reason = reason

    def write_status(self, status: str, step: int, message: str = "") -> None:
        """Write ``RUN/status.json`` (rank 0 only)."""
        self.status, self.message = status, message
        if not self.is_main:
            return
        write_status_file(
            self.run_dir,
            family=self.family,
            status=status,
            step=step,
            total_steps=self.total_steps,
            message=message,
            skipped_images=self.skipped_images,
            warnings=self.warnings,
        )


def write_status_file(
    run_dir: Path,
    *,
    family: str,
    status: str,
    step: int,
    total_steps: int | None,
    message: str = "",
    skipped_images: int = 0,
    warnings: list[str] | None = None,
) -> None:
    """Write ``RUN/status.json`` atomically."""
    data = {
        "family": family,
        "status": status,
        "step": step,
        "total_steps": total_steps,
        "message": message,
        "skipped_images": skipped_images,
        "warnings": list(warnings or []),
    }
    write_text_atomic(run_dir / "status.json", json.dumps(data, indent=1))


@contextlib.contextmanager
def lock_run(run_dir: Path) -> Iterator[bool]:
    """Hold an exclusive lock on the run directory (one training process per run).

    Yields whether a lock is held (False where the OS or file system cannot lock folders;
    the run goes on unlocked). The lock ends with the process, even one killed with SIGKILL.

    Raises:
        ConfigError: another process holds the run.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield False
        return
    try:
        fd = os.open(run_dir, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"{run_dir} is being trained by another process right now; wait for it to end "
                "(or stop it), or choose another --out"
            ) from None
        except OSError:  # e.g. a network file system without locks
            yield False
            return
        yield True
    finally:
        os.close(fd)


def data_options(spec: Any, run: RunConfig, ctx: Context, split: str = "train") -> DataOptions:
    """The dataset options of a run (crop, resize, channels, flips)."""
    t = run.train
    return DataOptions(
        split=split,
        size=t.size,
        load_size=effective_load_size(t.size, t.load_size),
        channels=dict(spec.data_channels(run.model)),
        flip=t.flip,
        strict=t.strict,
        load_image=ctx.load_image,
        params=dict(spec.data_params(run.model)) if spec.data_params else {},
        max_pixels=t.max_pixels,
    )
