"""Self-describing, atomically written checkpoints.

Layout::

    RUN/checkpoints/
      step_0000500/
        model.safetensors   weights of every network; metadata: family, run config (JSON),
                            i2i version, step. Enough to rebuild the model with no flags.
        trainer.pt          optimizers, schedulers, grad scaler, training state (image pools),
                            RNG states, step (loaded with torch.load(weights_only=True))
      latest                name of the newest complete checkpoint directory

A checkpoint directory is written under a temporary name and renamed into place, then ``latest``
is replaced atomically: a crash at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from i2i.errors import CheckpointError
from i2i.training.run import write_text_atomic

WEIGHTS = "model.safetensors"
TRAINER_STATE = "trainer.pt"
LATEST = "latest"
#: Names the checkpoint with the best evaluation score (evaluation during training).
BEST = "best"


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    ckpt_root: Path,
    step: int,
    state_dict: Mapping[str, torch.Tensor],
    run_config: Mapping[str, Any],
    trainer_state: Mapping[str, Any] | None,
    keep: int = 3,
) -> Path:
    """Write ``ckpt_root/step_NNNNNNN`` atomically and point ``latest`` at it.

    Args:
        ckpt_root: ``RUN/checkpoints``.
        step: Steps completed.
        state_dict: Model weights (every network).
        run_config: ``RunConfig.to_dict()``.
        trainer_state: Optimizer/scheduler/scaler/RNG state (tensors and plain python values);
            ``None`` writes a weights-only checkpoint (no ``trainer.pt``, e.g. an imported
            model), which translates and exports but cannot resume training.
        keep: Keep this many newest checkpoints; older ones are deleted after the new one is safe.

    Returns:
        The checkpoint directory.
    """
    from i2i import __version__

    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(step)
    final = ckpt_root / name
    tmp = ckpt_root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state_dict.items()}
        meta = {
            "format": "pt",
            "i2i_family": str(run_config["family"]),
            "i2i_run_config": json.dumps(run_config),
            "i2i_version": __version__,
            "i2i_step": str(step),
        }
        save_file(tensors, str(tmp / WEIGHTS), metadata=meta)
        if trainer_state is not None:
            torch.save(dict(trainer_state, step=step), tmp / TRAINER_STATE)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # re-saving the same step: move the old one aside first
            old = ckpt_root / f".old-{name}-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        _fsync_dir(ckpt_root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_text_atomic(ckpt_root / LATEST, name + "\n")
    prune_checkpoints(ckpt_root, keep)
    return final


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoint directories, oldest first."""
    if not ckpt_root.is_dir():
        return []
    return sorted(
        p
        for p in ckpt_root.iterdir()
        if p.is_dir() and p.name.startswith("step_") and (p / WEIGHTS).is_file()
    )


def prune_checkpoints(ckpt_root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (never those ``latest`` and ``best``
    name)."""
    if keep <= 0:
        return
    kept = {(ckpt_root / f).read_text().strip() for f in (LATEST, BEST) if (ckpt_root / f).exists()}
    for p in list_checkpoints(ckpt_root)[:-keep]:
        if p.name not in kept:
            shutil.rmtree(p, ignore_errors=True)


def find_checkpoint(path: str | Path) -> Path:
    """Resolve a run directory, a checkpoint directory or a ``.safetensors`` file to a
    checkpoint's weights file.

    Raises:
        CheckpointError: nothing usable at ``path`` (the message says what was looked for).
    """
    p = Path(path)
    if p.is_file():
        if p.suffix != ".safetensors":
            raise CheckpointError(
                f"{p} is not a checkpoint; pass a run directory, a checkpoint directory or "
                f"its {WEIGHTS}"
            )
        return p
    if not p.exists():
        raise CheckpointError(f"{p} does not exist; pass a run directory or checkpoint directory")
    if (p / WEIGHTS).is_file():
        return p / WEIGHTS
    root = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    latest = root / LATEST
    if latest.is_file():
        cand = root / latest.read_text().strip() / WEIGHTS
        if cand.is_file():
            return cand
    found = list_checkpoints(root)
    if found:
        return found[-1] / WEIGHTS
    raise CheckpointError(
        f"no checkpoint found in {p}; expected {p}/checkpoints/step_*/{WEIGHTS} "
        "(has the run saved one yet?)"
    )


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    family: str
    run_config: dict[str, Any]
    version: str
    step: int
    weights: dict[str, torch.Tensor]

    def trainer_state(self) -> dict[str, Any]:
        """Load ``trainer.pt`` beside the weights (for resuming)."""
        f = self.path.parent / TRAINER_STATE
        if not f.is_file():
            raise CheckpointError(
                f"{f} is missing; this checkpoint holds weights only and cannot resume training"
            )
        try:
            return torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{f} is corrupt ({type(e).__name__}: {e})") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load the weights and metadata of a checkpoint (see :func:`find_checkpoint`).

    Raises:
        CheckpointError: missing, corrupt or not written by i2i.
    """
    f = find_checkpoint(path)
    try:
        weights = load_file(str(f))
        from safetensors import safe_open

        with safe_open(str(f), framework="pt") as sf:
            meta = sf.metadata() or {}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{f} is not a readable safetensors file ({e})") from None
    if "i2i_family" not in meta or "i2i_run_config" not in meta:
        raise CheckpointError(
            f"{f} has no i2i metadata (family, config); it was not written by i2i"
        )
    return Checkpoint(
        path=f,
        family=meta["i2i_family"],
        run_config=json.loads(meta["i2i_run_config"]),
        version=meta.get("i2i_version", "?"),
        step=int(meta.get("i2i_step", 0)),
        weights=weights,
    )


@dataclasses.dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, with its config and metadata (what
    :func:`i2i.load_run` and :func:`i2i.load_checkpoint` return).

    Attributes:
        model: The family's :class:`~i2i.GANModel` with the checkpoint's weights.
        config: The :class:`~i2i.RunConfig` it was trained with: ``family``, ``data`` (the
            dataset root), ``train`` (:class:`~i2i.TrainConfig`) and ``model`` (the family's
            config, with the values ``adapt_config`` took from the data).
        spec: The family's :class:`~i2i.ModelSpec`.
        checkpoint: The checkpoint's metadata: ``path`` (its ``model.safetensors``),
            ``family``, ``version`` (of i2i that wrote it), ``step`` and ``run_config`` (the
            raw dict); its ``weights`` are not kept (they are in ``model``).
        run_dir: The run directory the checkpoint belongs to (``RUN/checkpoints/step_N``),
            else None.
    """

    model: Any
    config: Any
    spec: Any
    checkpoint: Checkpoint
    run_dir: Path | None = None

    @property
    def family(self) -> str:
        return self.checkpoint.family

    @property
    def step(self) -> int:
        """Training steps the weights had seen."""
        return self.checkpoint.step

    def status(self) -> dict[str, Any] | None:
        """The run's ``status.json`` (``status``: running / completed / interrupted / failed,
        ``step``, ``total_steps``, ``message``, ...), or None without a run directory."""
        f = self.run_dir / "status.json" if self.run_dir is not None else None
        if f is None or not f.is_file():
            return None
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{f} is not readable JSON ({e}); remove it") from None


def run_dir_of(weights: Path) -> Path | None:
    """The run directory of a checkpoint's weights file (``RUN/checkpoints/step_N/...``)."""
    ckpt_dir = weights.parent
    return ckpt_dir.parent.parent if ckpt_dir.parent.name == "checkpoints" else None


def load_model(ctx: Any, path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild a family's model from a checkpoint, with no architecture flags.

    The model is left in training mode (:func:`i2i.load_checkpoint`, the public entry point,
    switches it to eval mode).

    Args:
        ctx: The plugin :class:`~i2i.manager.Context`.
        path: Run directory, checkpoint directory or weights file.
        device: Where to put the model.

    Raises:
        CheckpointError: the checkpoint does not match the model its config describes.
    """
    from i2i.training.run import run_config_from_dict

    ckpt = load_checkpoint(path)
    run_config = run_config_from_dict(ctx, ckpt.run_config)
    spec = ctx.models.get(ckpt.family)
    model = spec.build(run_config.model, ctx)
    try:
        model.load_state_dict(ckpt.weights, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{ckpt.path} does not fit the '{ckpt.family}' model its config describes "
            f"(was it written by another version of the plugin?): {' '.join(first[:3])}"
        ) from None
    model.to(device)
    meta = dataclasses.replace(ckpt, weights={})
    return LoadedModel(
        model=model, config=run_config, spec=spec, checkpoint=meta, run_dir=run_dir_of(ckpt.path)
    )
