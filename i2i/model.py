"""The base class of every model family's built object.

A family subclasses :class:`GANModel`, holds its generators and discriminators as sub-modules
and answers the trainer's questions. The trainer owns optimizers, AMP, gradient scaling,
schedules, checkpoints and logging; a family only says what to compute.

One training step, as the generic trainer runs it::

    cache = model.forward_step(batch)            # run the generators once
    for group in model.step_groups(step):        # e.g. ("G", "D")
        losses = model.losses(group, batch, cache)   # named terms, summed and back-propagated
        optimizer[group].step()

While a group is optimized, the parameters of every other group have ``requires_grad=False``.
Discriminator losses must use detached fakes from ``cache``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from i2i.specs import InferenceInfo


@dataclasses.dataclass
class OptimGroup:
    """One optimizer: the modules it updates and its Adam settings."""

    name: str
    modules: Sequence[nn.Module]
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self.modules for p in m.parameters()]


class GANModel(nn.Module):
    """Base class of a model family's networks and losses.

    Subclasses set ``self.config`` and implement the abstract methods below.
    """

    config: Any

    # -- training ---------------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimGroup]:
        """The optimizers to create, in default step order (e.g. G then D)."""
        raise NotImplementedError

    def step_groups(self, step: int) -> tuple[str, ...]:
        """Groups optimized at ``step`` (0-based), in order. Default: every group."""
        return tuple(g.name for g in self.optimizer_groups())

    def lr_scale(self, group: str, step: int) -> float:
        """Factor on ``group``'s base learning rate at 0-based ``step`` (e.g. a different LR in
        a warm-up stage); the LR schedule's factor multiplies it. Must be a pure function of
        the step (resume). Default: 1."""
        return 1.0

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the generators once for a batch; the result is shared by all loss groups."""
        raise NotImplementedError

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Named scalar loss terms for one optimizer group; their sum is back-propagated."""
        raise NotImplementedError

    def after_step(self, group: str, step: int) -> None:
        """Called after ``group``'s optimizer step at ``step`` (0-based); e.g. update an EMA of
        the generator (:class:`i2i.nn.ModelEMA`). Default: nothing."""

    def training_state(self) -> dict[str, torch.Tensor]:
        """Extra state to checkpoint besides weights (e.g. image pools). Tensors only."""
        return {}

    def load_training_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore :meth:`training_state`."""

    # -- inference and reporting ------------------------------------------------------------
    def inference_directions(self) -> tuple[str, ...]:
        """Directions this built model translates in; the first is the default."""
        return ("AtoB",)

    def inference_module(self, direction: str | None = None) -> nn.Module:
        """A pure module ``forward(inputs) -> image`` in [-1, 1] for translate and export."""
        raise NotImplementedError

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        """Input/output description of :meth:`inference_module` for ``direction``."""
        raise NotImplementedError

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Images worth showing for a batch (NCHW in [-1, 1]), in display order."""
        return {}


def set_requires_grad(modules: Sequence[nn.Module], flag: bool) -> None:
    """Switch ``requires_grad`` of every parameter of ``modules``."""
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)
