"""One optimization step of a GAN: forward once, then each optimizer group's losses, a
finiteness check naming the bad term, backward (through a gradient scaler for fp16), optional
clipping and the optimizer step."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from i2i.config import check_optim_values
from i2i.errors import ConfigError, NonFiniteLossError
from i2i.model import GANModel, set_requires_grad
from i2i.training import runtime


class TrainStep:
    """One optimization step of a :class:`~i2i.model.GANModel`.

    Runs ``forward_step`` once under autocast, then for each group of ``step_groups``: the
    group's losses (other groups frozen), a finiteness check naming the bad term, backward
    through the gradient scaler (active for fp16 only), optional clipping and the optimizer step.

    Args:
        model: The family's model, already on ``device``.
        device: Device of the model.
        amp_dtype: Autocast dtype (None = fp32).
        grad_clip: Clip each group's gradient norm to this (0 = off).

    Example:
        >>> step = TrainStep(model, torch.device("cpu"), torch.bfloat16)  # doctest: +SKIP
        >>> losses = step(batch, step_index=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: GANModel,
        device: torch.device,
        amp_dtype: torch.dtype | None = None,
        grad_clip: float = 0.0,
        fused: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.amp_dtype = amp_dtype
        self.grad_clip = grad_clip
        self.groups = model.optimizer_groups()
        self.modules = {g.name: list(g.modules) for g in self.groups}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for g in self.groups:
            params = g.parameters()
            if not params:
                raise ConfigError(f"optimizer group '{g.name}' has no parameters")
            check_optim_values(
                f"optimizer group '{g.name}': ", lr=g.lr, beta1=g.betas[0], beta2=g.betas[1],
                weight_decay=g.weight_decay,
            )  # fmt: skip
            # fused Adam (one kernel per step on CPU and CUDA) where every parameter allows it
            use_fused = (
                fused
                and device.type in ("cpu", "cuda")
                and all(p.is_floating_point() for p in params)
            )
            self.optimizers[g.name] = torch.optim.Adam(
                params, lr=g.lr, betas=g.betas, weight_decay=g.weight_decay, fused=use_fused or None
            )
        self.scaler = runtime.make_grad_scaler(device, amp_dtype)
        self.last_cache: dict[str, torch.Tensor] | None = None
        #: ``group_context(group)``: a context for one group's losses and backward (the
        #: distributed trainer synchronizes only that group's gradients).
        self.group_context: Callable[[str], contextlib.AbstractContextManager] | None = None

    def set_lr_factor(self, factor: float, step: int | None = None) -> None:
        """Set every group's LR to its base LR times ``factor`` (the schedule's) and, given the
        0-based ``step``, times the model's :meth:`~i2i.GANModel.lr_scale` for that step.

        Raises:
            ConfigError: the model's ``lr_scale`` is negative or not finite.
        """
        for g in self.groups:
            scale = 1.0 if step is None else float(self.model.lr_scale(g.name, step))
            if not (math.isfinite(scale) and scale >= 0):
                raise ConfigError(
                    f"lr_scale of group '{g.name}' at step {step} must be a finite number >= 0, "
                    f"got {scale}"
                )
            for pg in self.optimizers[g.name].param_groups:
                pg["lr"] = g.lr * factor * scale

    def lrs(self) -> dict[str, float]:
        return {f"lr/{n}": o.param_groups[0]["lr"] for n, o in self.optimizers.items()}

    def __call__(self, batch: Mapping[str, Any], step_index: int) -> dict[str, float]:
        """Run one step; returns the loss terms as floats (``G/gan_A``, ``G/total``, ...).

        Raises:
            NonFiniteLossError: a loss term is NaN or infinite (before any weight changes
                of that group).
        """
        model, amp = self.model, self.amp_dtype
        out: dict[str, float] = {}
        with runtime.autocast(self.device, amp):
            cache = model.forward_step(batch)
        for group in model.step_groups(step_index):
            for name, mods in self.modules.items():
                set_requires_grad(mods, name == group)
            ctx = self.group_context(group) if self.group_context else contextlib.nullcontext()
            with ctx:
                with runtime.autocast(self.device, amp):
                    losses = model.losses(group, batch, cache)
                total = sum(losses.values())
                values = torch.stack([v.detach().float() for v in losses.values()]).tolist()
                for name, val in zip(losses, values, strict=True):
                    if not math.isfinite(val):
                        raise NonFiniteLossError(step_index + 1, f"{group}/{name}", val)
                    out[f"{group}/{name}"] = val
                out[f"{group}/total"] = sum(values)
                opt = self.optimizers[group]
                opt.zero_grad(set_to_none=True)
                self.scaler.scale(total).backward()
            if self.grad_clip > 0:
                self.scaler.unscale_(opt)
                params = [p for m in self.modules[group] for p in m.parameters()]
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            self.scaler.step(opt)
            self.scaler.update()
            model.after_step(group, step_index)
        for mods in self.modules.values():
            set_requires_grad(mods, True)
        self.last_cache = cache
        return out
