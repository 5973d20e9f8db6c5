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

A one-generator translation family needs only ``__init__`` (set ``self.config`` and build
``self.G`` / ``self.D``), :meth:`GANModel.forward_step` and :meth:`GANModel.losses`: the
optimizer groups, the inference module and its description, the directions and the images shown
in sample grids have defaults that follow the conventions below; override any of them.

- ``generator_names`` / ``discriminator_names`` (default ``("G",)`` / ``("D",)``): the
  sub-modules of optimizer groups ``"G"`` and ``"D"``, built from ``config.optim``
  (an :class:`i2i.OptimConfig`: ``lr`` for G, ``lr_d or lr`` for D);
- directions are named ``"XtoY"`` after the batch keys (``"AtoB"``: input ``batch["A"]``,
  target ``batch["B"]``); ``config.input_nc`` / ``config.output_nc`` are the channels of A / B.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from i2i.errors import ConfigError
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

    Subclasses set ``self.config`` and implement :meth:`forward_step` and :meth:`losses`; the
    other methods have defaults (see the module docstring for their conventions).
    """

    config: Any
    #: Sub-modules of optimizer group ``"G"`` (attribute names; None values are skipped), in
    #: the order of :meth:`inference_directions` (the default inference module of direction
    #: ``k`` is ``generator_names[k]``).
    generator_names: tuple[str, ...] = ("G",)
    #: Sub-modules of optimizer group ``"D"``.
    discriminator_names: tuple[str, ...] = ("D",)

    # -- training ---------------------------------------------------------------------------
    def optimizer_groups(self) -> list[OptimGroup]:
        """The optimizers to create, in default step order.

        Default: ``"G"`` over :attr:`generator_names` at ``config.optim.lr`` and ``"D"`` over
        :attr:`discriminator_names` at ``config.optim.lr_d`` (or ``lr`` when 0), both with
        ``betas = (beta1, beta2)`` and ``weight_decay`` from ``config.optim``; a group without
        modules is left out.

        Raises:
            ConfigError: the config has no ``optim`` section (override this method instead).
        """
        o = getattr(getattr(self, "config", None), "optim", None)
        if o is None:
            raise ConfigError(
                f"{type(self).__name__}: the default optimizer_groups() reads config.optim (an "
                "i2i.OptimConfig); add that section to the config or override optimizer_groups()"
            )
        betas = (o.beta1, o.beta2)
        groups = []
        for name, attrs, lr in (
            ("G", self.generator_names, o.lr),
            ("D", self.discriminator_names, o.lr_d or o.lr),
        ):
            modules = [m for m in (getattr(self, a, None) for a in attrs) if m is not None]
            if modules:
                groups.append(OptimGroup(name, modules, lr, betas, o.weight_decay))
        return groups

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
        """Directions this built model translates in; the first is the default.
        Default: ``("AtoB",)``."""
        return ("AtoB",)

    def check_direction(self, direction: str | None) -> str:
        """``direction``, or the default one for None.

        Raises:
            ConfigError: the model does not translate in ``direction`` (the message lists the
                directions it does).
        """
        directions = self.inference_directions()
        d = direction or directions[0]
        if d not in directions:
            raise ConfigError(
                f"this {type(self).__name__} model translates in direction(s) "
                f"{', '.join(directions)}, not {d!r}"
            )
        return d

    def inference_module(self, direction: str | None = None) -> nn.Module:
        """A pure module ``forward(inputs) -> image`` in [-1, 1] for translate and export.

        Default: the generator of the direction (``generator_names[k]`` for the ``k``-th of
        :meth:`inference_directions`).
        """
        d = self.check_direction(direction)
        k = min(self.inference_directions().index(d), len(self.generator_names) - 1)
        return getattr(self, self.generator_names[k])

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        """Input/output description of :meth:`inference_module` for ``direction``.

        Default: one image in, one image out: ``config.input_nc`` -> ``config.output_nc`` for
        ``"AtoB"`` (the reverse for ``"BtoA"``), with the module's ``stride`` and ``scale``
        attributes (1 when absent).

        Raises:
            ConfigError: an unknown direction, or a config without ``input_nc`` / ``output_nc``
                (override this method).
        """
        d = self.check_direction(direction)
        module = self.inference_module(d)
        channels = [
            getattr(getattr(self, "config", None), k, None) for k in ("input_nc", "output_nc")
        ]
        if None in channels:
            raise ConfigError(
                f"{type(self).__name__}: the default inference_info() reads config.input_nc and "
                "config.output_nc; add them to the config or override inference_info()"
            )
        cin, cout = channels[::-1] if d == "BtoA" else channels
        return InferenceInfo(
            inputs=("image",),
            in_channels=int(cin),
            out_channels=int(cout),
            stride=int(getattr(module, "stride", 1)),
            scale=int(getattr(module, "scale", 1)),
            direction=d,
        )

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Images worth showing for a batch (NCHW in [-1, 1]), in display order.

        Default: for the default direction ``"XtoY"``: ``real_X``, then every image of ``cache``
        (4-d float tensors of 1 to 4 channels) under its own name, then ``real_Y`` and any other
        image of the batch as ``real_KEY``.
        """
        source, _, target = self.inference_directions()[0].partition("to")
        images = {k: v for k, v in batch.items() if _is_image(v)}
        order = [k for k in (source, target) if k in images]
        out = {f"real_{k}": images[k] for k in order[:1]}
        out.update({k: v for k, v in cache.items() if _is_image(v)})
        out.update({f"real_{k}": v for k, v in images.items() if k not in order[:1]})
        return out


def _is_image(x: Any) -> bool:
    return (
        isinstance(x, torch.Tensor)
        and x.ndim == 4
        and x.is_floating_point()
        and 1 <= x.shape[1] <= 4
    )


def set_requires_grad(modules: Sequence[nn.Module], flag: bool) -> None:
    """Switch ``requires_grad`` of every parameter of ``modules``."""
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)
