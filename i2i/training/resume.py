"""Resuming: a checkpoint's weights and ``trainer.pt`` restored into a :class:`TrainStep`, with
every part of the state checked first (nothing is unpickled; whatever does not fit is one
:class:`~i2i.errors.CheckpointError` naming the checkpoint)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from i2i.errors import CheckpointError, I2IError, one_line
from i2i.training import runtime
from i2i.training.checkpoint import (
    DAMAGED,
    TRAINER_STATE,
    CheckpointHeader,
    load_checkpoint,
    non_finite,
)
from i2i.training.step import TrainStep

log = logging.getLogger(__name__)


def restore(stepper: TrainStep, header: CheckpointHeader) -> tuple[int, int]:
    """Load a run's checkpoint into ``stepper`` (weights, optimizers, scaler, training state,
    RNG); returns (step, skipped images).

    Raises:
        CheckpointError: the checkpoint's files do not restore this run (the message says
            which file and why; nothing of it is unpickled).
    """
    ckpt = load_checkpoint(header.path)
    state = ckpt.trainer_state()
    where = ckpt.path.parent
    for key, tp in _TRAINER_STATE_KEYS.items():
        if key not in state and key in ("optimizers", "scaler"):
            raise CheckpointError(f"{where / TRAINER_STATE} has no {key!r}; {DAMAGED}")
        if key in state and (not isinstance(state[key], tp) or isinstance(state[key], bool)):
            raise CheckpointError(
                f"{where / TRAINER_STATE}: {key!r} is a {type(state[key]).__name__}; {DAMAGED}"
            )
    try:
        stepper.model.load_state_dict(ckpt.weights, strict=True)
        for name, opt in stepper.optimizers.items():
            if name not in state["optimizers"]:
                raise CheckpointError(f"{where} has no state for optimizer '{name}'")
            opt.load_state_dict(state["optimizers"][name])
            _check_optimizer_state(opt, name, where)
        stepper.scaler.load_state_dict(state["scaler"])
        stepper.model.load_training_state(state.get("training_state", {}))
        runtime.set_rng_state({k: v for k, v in state.items() if k.startswith("rng/")})
    except I2IError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the state holds, one line
        first = one_line((str(e).strip().splitlines() or [""])[0])[:200]
        raise CheckpointError(
            f"{where} cannot be resumed ({type(e).__name__}: {first}); its trainer.pt does "
            "not fit this run: resume from another checkpoint or start a new run"
        ) from e
    bad = non_finite(state)
    if bad:
        raise CheckpointError(
            f"{where / 'trainer.pt'} holds NaN or infinite values ({bad[0]}); resume from "
            "another checkpoint"
        )
    log.info("resumed from %s at step %d", where, ckpt.step)
    return int(state["step"]), int(state.get("skipped_images", 0))


#: trainer.pt's keys and their types (``rng/*`` tensors besides); the first two are required
_TRAINER_STATE_KEYS: dict[str, type] = {
    "optimizers": dict,
    "scaler": dict,
    "training_state": dict,
    "skipped_images": int,
    "world_size": int,
}


def _check_optimizer_state(opt: torch.optim.Optimizer, name: str, where: Path) -> None:
    """Every per-parameter state tensor (Adam's moments) has its parameter's shape."""
    for group in opt.param_groups:
        for p in group["params"]:
            for key, v in opt.state.get(p, {}).items():
                if isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape != p.shape:
                    raise CheckpointError(
                        f"{where}: optimizer '{name}' state '{key}' has shape {list(v.shape)} "
                        f"for a parameter of shape {list(p.shape)}; resume from another "
                        "checkpoint"
                    )
