"""Resuming: a checkpoint's weights and ``trainer.pt`` restored into a :class:`TrainStep`, with
every part of the state checked first (nothing is unpickled; whatever does not fit is one
:class:`~i2i.errors.CheckpointError` naming the checkpoint)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from i2i.config import check_optim_values
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
            with warnings.catch_warnings():  # torch warns about odd values; checked next
                warnings.simplefilter("ignore")
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
    """Adam's settings are numbers in range, and every per-parameter state entry (step, moments)
    is a tensor, non-scalar ones of their parameter's shape.

    Raises:
        CheckpointError: the first entry that would fail (or silently misbehave) in a step.
    """
    fix = "resume from another checkpoint"
    for group in opt.param_groups:
        try:
            b1, b2 = (float(b) for b in group["betas"])
            check_optim_values(
                "", lr=float(group["lr"]), beta1=b1, beta2=b2,
                weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(
                f"{where}: optimizer '{name}' has unusable settings ({one_line(str(e))[:120]}); "
                f"{fix}"
            ) from None
        for p in group["params"]:
            for key, v in opt.state.get(p, {}).items():
                if not isinstance(v, torch.Tensor):
                    raise CheckpointError(
                        f"{where}: optimizer '{name}' state '{key}' is a {type(v).__name__}, not "
                        f"a tensor; {fix}"
                    )
                if v.ndim > 0 and v.shape != p.shape:
                    raise CheckpointError(
                        f"{where}: optimizer '{name}' state '{key}' has shape {list(v.shape)} "
                        f"for a parameter of shape {list(p.shape)}; {fix}"
                    )
