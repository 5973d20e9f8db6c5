"""An example third-party i2i plugin: the ``onesided`` model family.

This package exists to show how a plugin is written; it is not a recipe from a paper. It adds a
small but complete family, ``onesided``: one-sided unpaired translation A -> B with

- one generator ``G`` (A -> B), built by name through ``ctx.generators`` (``generator.arch``);
- one discriminator ``D`` judging domain B, built through ``ctx.discriminators``;
- a GAN loss looked up by name in ``ctx.losses`` (``loss.gan_mode``);
- an L1 *content* term between the output and its input, weighted ``loss.lambda_content``
  ("translate with a GAN while staying close to the input"). When the two domains have a
  different number of channels, the term compares the channel means (a grayscale view).

It trains on the built-in ``unpaired`` dataset format (``trainA/``, ``trainB/``).

It also shows the other kinds of hook: an observer (:func:`i2i_train_end` logs one summary line
when a ``onesided`` run ends) and a CLI command (:func:`i2i_register_commands` adds
``i2i example-info``).

The plugin is found through its entry point (``pyproject.toml``)::

    [project.entry-points."i2i.plugins"]
    example = "i2i_example_plugin"

and, like every i2i plugin, it imports only i2i's public API (``i2i`` and ``i2i.nn``).

Example:
    >>> import i2i
    >>> ctx = i2i.load_context()  # doctest: +SKIP
    >>> ctx.models.owner("onesided")  # doctest: +SKIP
    'example'
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

import i2i
from i2i.nn import discriminator_loss

__version__ = "0.1.0"

log = logging.getLogger(__name__)

FAMILY = "onesided"


# -- config ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OneSidedLossConfig:
    """Loss settings of ``onesided``."""

    gan_mode: str = i2i.opt("lsgan", "GAN loss by name: lsgan | vanilla | hinge | wgangp")
    lambda_content: float = i2i.opt(
        5.0, "weight of the L1 content loss between the output and its input (0 disables)"
    )
    gp_weight: float = i2i.opt(10.0, "gradient-penalty weight (gan_mode = wgangp only)")


@dataclasses.dataclass(frozen=True)
class OneSidedConfig:
    """Options of the ``onesided`` family (``--set KEY=VALUE``, e.g. ``loss.lambda_content=2``)."""

    input_nc: int = i2i.opt(3, "channels of domain A images (1 = grayscale, 3 = RGB)")
    output_nc: int = i2i.opt(3, "channels of domain B images (1 = grayscale, 3 = RGB)")
    generator: i2i.GeneratorConfig = i2i.opt(
        i2i.GeneratorConfig(ngf=32, n_blocks=6), "generator G (A->B)"
    )
    discriminator: i2i.DiscriminatorConfig = i2i.opt(
        i2i.DiscriminatorConfig(), "discriminator D (judges domain B)"
    )
    loss: OneSidedLossConfig = i2i.opt(OneSidedLossConfig(), "loss settings")
    optim: i2i.OptimConfig = i2i.opt(i2i.OptimConfig(), "Adam settings")
    schedule: i2i.ScheduleConfig = i2i.opt(i2i.ScheduleConfig(), "learning-rate schedule")


def config_keys(config: Any, prefix: str = "") -> list[tuple[str, Any, str]]:
    """Every leaf option of a config dataclass instance as ``(dotted key, value, help)``.

    Args:
        config: A config dataclass instance (e.g. ``OneSidedConfig()``).
        prefix: Prepended to every key (used for nested sections).

    Returns:
        Rows in field order; nested sections give dotted keys such as ``generator.ngf``.

    Example:
        >>> config_keys(OneSidedConfig())[0]
        ('input_nc', 3, 'channels of domain A images (1 = grayscale, 3 = RGB)')
    """
    rows: list[tuple[str, Any, str]] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            rows.extend(config_keys(value, f"{prefix}{f.name}."))
        else:
            rows.append((f"{prefix}{f.name}", value, f.metadata.get("help", "")))
    return rows


# -- model -------------------------------------------------------------------------------------


class OneSided(i2i.GANModel):
    """One generator A -> B, one discriminator on B, GAN loss + L1 content loss.

    Everything else comes from :class:`i2i.GANModel`'s defaults: the optimizer groups ``G``
    (``self.G``) and ``D`` (``self.D``) with the Adam settings of ``config.optim``, the inference
    module (``G``) and its description (``input_nc`` -> ``output_nc`` channels, ``G``'s stride),
    the direction (``AtoB``) and the sample-grid images (``real_A``, ``fake_B``, ``real_B``).

    Args:
        config: The family's options.
        ctx: The i2i context; networks and the GAN loss are resolved through its registries.

    Raises:
        ConfigError: channels other than 1 or 3, a negative loss weight, or an unknown
            architecture / GAN loss name (the message lists the known names).
    """

    def __init__(self, config: OneSidedConfig, ctx: i2i.Context) -> None:
        super().__init__()
        c = self.config = config
        for key in ("input_nc", "output_nc"):
            if (value := getattr(c, key)) not in (1, 3):
                raise i2i.ConfigError(f"{key} must be 1 or 3 (grayscale or RGB), got {value}")
        if c.loss.lambda_content < 0:
            raise i2i.ConfigError(f"loss.lambda_content must be >= 0, got {c.loss.lambda_content}")
        self.G = ctx.generators.get(c.generator.arch)(c.input_nc, c.output_nc, c.generator, ctx)
        self.D = ctx.discriminators.get(c.discriminator.arch)(c.output_nc, c.discriminator, ctx)
        self.gan_loss = ctx.losses.get(c.loss.gan_mode)()
        self.content_loss = nn.L1Loss()

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Translate the A images once; both loss groups share the result.

        Shape:
            ``batch["A"]``: (N, input_nc, H, W) -> ``fake_B``: (N, output_nc, H, W).
        """
        return {"fake_B": self.G(batch["A"])}

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Named loss terms: ``G``: ``gan`` and ``content``; ``D``: ``D`` (with the gradient
        penalty for ``wgangp``)."""
        lc, fake_B = self.config.loss, cache["fake_B"]
        if group == "D":  # the helper detaches the fakes: D must not back-propagate into G
            real_B = batch["B"]
            return {"D": discriminator_loss(self.gan_loss, self.D, real_B, fake_B, lc.gp_weight)}
        out = {"gan": self.gan_loss(self.D(fake_B), True, for_discriminator=False)}
        if lc.lambda_content > 0:
            out["content"] = self._content(fake_B, batch["A"]) * lc.lambda_content
        return out

    def _content(self, output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """L1 between output and input; channel means when their channel counts differ."""
        if output.shape[1] != source.shape[1]:
            output, source = output.mean(1, keepdim=True), source.mean(1, keepdim=True)
        return self.content_loss(output, source)


SPEC = i2i.ModelSpec(
    name=FAMILY,
    summary="Example plugin: one-sided unpaired A->B GAN with an L1 content term",
    config_cls=OneSidedConfig,
    build=OneSided,
    dataset_format="unpaired",  # batch keys A and B; channels input_nc, output_nc (the defaults)
    default_train={"epochs": 100, "size": 256, "batch_size": 1},
    tiny=(
        "generator.ngf=8",
        "generator.n_blocks=2",
        "discriminator.ndf=8",
        "discriminator.n_layers=2",
    ),
    # ``i2i demo onesided``: a small model on the unpaired demo data, translated afterwards
    demo=i2i.DemoRecipe(
        steps=600,
        overrides=("generator.ngf=16", "generator.n_blocks=4", "discriminator.ndf=16"),
        train={"size": 64, "load_size": 72, "batch_size": 2},
        translate=(("AtoB", "testA"),),
        summary="a small one-sided GAN on the unpaired shapes demo at 64 px (about 20 s); with "
        "no cycle loss it learns domain B's look far more than shape-faithful translation",
    ),
)


# -- hooks -------------------------------------------------------------------------------------


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    """Registration hook: add the ``onesided`` family (``i2i models``, ``i2i train onesided``)."""
    registrar.add(SPEC.name, SPEC)


@i2i.hookimpl
def i2i_train_end(run: Any, step: int, status: str) -> None:
    """Observer hook: log one summary line when a ``onesided`` run ends.

    Observers see every run, of every family; this one ignores the others.

    Args:
        run: The run (``run.family``, ``run.run_dir``, ``run.total_steps``, ``run.is_main``).
        step: Steps completed.
        status: ``"completed"``, ``"interrupted"`` or ``"failed"``.
    """
    if run.family != FAMILY or not run.is_main:
        return
    log.info(
        "example plugin: %s run %s %s at step %d of %d",
        run.family,
        run.run_dir,
        status,
        step,
        run.total_steps,
    )


@i2i.hookimpl
def i2i_register_commands(app: Any) -> None:
    """Command hook: add ``i2i example-info`` (lists the ``onesided`` config keys).

    Args:
        app: The root ``typer.Typer`` app. typer is imported here, lazily, so that importing
            the plugin (e.g. for training from a script) does not need the CLI.
    """
    import typer

    @app.command("example-info")
    def example_info() -> None:
        """Show the config keys of the example plugin's 'onesided' family."""
        typer.echo(f"{SPEC.name} (plugin 'example' {__version__}): {SPEC.summary}")
        typer.echo(f"dataset format: {SPEC.dataset_format}; config keys (--set KEY=VALUE):")
        for key, value, help_ in config_keys(OneSidedConfig()):
            typer.echo(f"  {key} = {value!r}  -- {help_}")
