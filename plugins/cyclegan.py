"""CycleGAN: unpaired translation with two generators, two discriminators and cycle consistency.

Defaults follow the paper's recipe (Zhu et al., 2017): ResNet-9 generators (ngf 64), 70x70
PatchGAN discriminators (ndf 64), instance norm, LSGAN loss, cycle L1 x10, identity x0.5, an image
history pool of 50, Adam 2e-4 / beta1 0.5, constant LR for half the run then linear decay to 0.

This module uses only i2i's public API, exactly like a third-party plugin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

import i2i
from i2i import (
    DiscriminatorConfig,
    GeneratorConfig,
    ModelSpec,
    OptimConfig,
    ScheduleConfig,
    opt,
)
from i2i.nn import ImagePool, discriminator_loss


@dataclasses.dataclass(frozen=True)
class CycleGANLossConfig:
    """Loss weights of CycleGAN."""

    gan_mode: str = opt("lsgan", "GAN loss: lsgan | vanilla | hinge | wgangp")
    lambda_cycle: float = opt(10.0, "weight of the cycle-consistency L1 loss (both directions)")
    lambda_identity: float = opt(
        0.5, "identity loss weight, relative to lambda_cycle (0 disables; needs equal channels)"
    )
    gp_weight: float = opt(10.0, "gradient-penalty weight (gan_mode = wgangp only)")


@dataclasses.dataclass(frozen=True)
class CycleGANConfig:
    """CycleGAN options (``--set KEY=VALUE``)."""

    input_nc: int = opt(3, "channels of domain A images (1 = grayscale, 3 = RGB)")
    output_nc: int = opt(3, "channels of domain B images")
    generator: GeneratorConfig = opt(GeneratorConfig(), "generators G_A (A->B) and G_B (B->A)")
    discriminator: DiscriminatorConfig = opt(
        DiscriminatorConfig(), "discriminators D_A (judges B) and D_B (judges A)"
    )
    loss: CycleGANLossConfig = opt(CycleGANLossConfig(), "loss weights")
    pool_size: int = opt(50, "image history pool per discriminator (0 disables)")
    optim: OptimConfig = opt(OptimConfig(), "Adam settings")
    schedule: ScheduleConfig = opt(ScheduleConfig(), "learning-rate schedule")


class CycleGAN(i2i.GANModel):
    """Two generators and two discriminators trained with adversarial + cycle losses.

    Optimizer groups, inference modules (G_A for AtoB, G_B for BtoA) and their descriptions are
    :class:`i2i.GANModel`'s defaults.
    """

    generator_names = ("G_A", "G_B")
    discriminator_names = ("D_A", "D_B")

    def __init__(self, config: CycleGANConfig, ctx: i2i.Context) -> None:
        super().__init__()
        if config.input_nc not in (1, 3) or config.output_nc not in (1, 3):
            raise i2i.ConfigError(
                f"input_nc and output_nc must be 1 or 3, got {config.input_nc} and "
                f"{config.output_nc}"
            )
        self.config = config
        gen = ctx.generators.get(config.generator.arch)
        disc = ctx.discriminators.get(config.discriminator.arch)
        self.G_A = gen(config.input_nc, config.output_nc, config.generator, ctx)
        self.G_B = gen(config.output_nc, config.input_nc, config.generator, ctx)
        self.D_A = disc(config.output_nc, config.discriminator, ctx)
        self.D_B = disc(config.input_nc, config.discriminator, ctx)
        self.gan_loss = ctx.losses.get(config.loss.gan_mode)()
        self.cycle_loss = nn.L1Loss()
        self.pool_A = ImagePool(config.pool_size, seed=1)  # holds generated A images
        self.pool_B = ImagePool(config.pool_size, seed=2)  # holds generated B images
        self.use_identity = config.loss.lambda_identity > 0 and config.input_nc == config.output_nc

    # -- training ---------------------------------------------------------------------------
    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real_A, real_B = batch["A"], batch["B"]
        fake_B = self.G_A(real_A)
        fake_A = self.G_B(real_B)
        return {
            "fake_B": fake_B,
            "rec_A": self.G_B(fake_B),
            "fake_A": fake_A,
            "rec_B": self.G_A(fake_A),
        }

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_A, real_B = batch["A"], batch["B"]
        lc = self.config.loss
        if group == "G":
            out = {
                "gan_A": self.gan_loss(self.D_A(cache["fake_B"]), True, for_discriminator=False),
                "gan_B": self.gan_loss(self.D_B(cache["fake_A"]), True, for_discriminator=False),
                "cycle_A": self.cycle_loss(cache["rec_A"], real_A) * lc.lambda_cycle,
                "cycle_B": self.cycle_loss(cache["rec_B"], real_B) * lc.lambda_cycle,
            }
            if self.use_identity:
                w = lc.lambda_cycle * lc.lambda_identity
                out["idt_A"] = self.cycle_loss(self.G_A(real_B), real_B) * w
                out["idt_B"] = self.cycle_loss(self.G_B(real_A), real_A) * w
            return out
        if group == "D":
            fake_B = self.pool_B.query(cache["fake_B"].detach())
            fake_A = self.pool_A.query(cache["fake_A"].detach())
            return {
                "D_A": discriminator_loss(self.gan_loss, self.D_A, real_B, fake_B, lc.gp_weight),
                "D_B": discriminator_loss(self.gan_loss, self.D_B, real_A, fake_A, lc.gp_weight),
            }
        raise i2i.ConfigError(f"CycleGAN has optimizer groups G and D, not '{group}'")

    def training_state(self) -> dict[str, torch.Tensor]:
        state = {f"pool_A/{k}": v for k, v in self.pool_A.state().items()}
        state.update({f"pool_B/{k}": v for k, v in self.pool_B.state().items()})
        return state

    def load_training_state(self, state: Mapping[str, torch.Tensor]) -> None:
        for name, pool in (("pool_A", self.pool_A), ("pool_B", self.pool_B)):
            sub = {k.split("/", 1)[1]: v for k, v in state.items() if k.startswith(name + "/")}
            if sub:
                pool.load_state(sub)

    # -- inference ----------------------------------------------------------------------------
    def inference_directions(self) -> tuple[str, ...]:
        return ("AtoB", "BtoA")

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {
            "real_A": batch["A"],
            "fake_B": cache["fake_B"],
            "rec_A": cache["rec_A"],
            "real_B": batch["B"],
            "fake_A": cache["fake_A"],
            "rec_B": cache["rec_B"],
        }


def evaluate(
    ctx: i2i.Context, loaded: object, data_root: Path, out_dir: Path, *, options: object = None
) -> dict[str, object]:
    """Both directions on the test split (``testA`` -> B, ``testB`` -> A): FID / KID against the
    other domain's real test images, the outputs, best / worst examples and the nearest
    training images (see :mod:`i2i.metrics.evaluation`)."""
    from i2i.metrics.evaluation import TranslationJob, evaluate_translation_family

    jobs = [
        TranslationJob("AtoB", ("A",), "B", paired=False),
        TranslationJob("BtoA", ("B",), "A", paired=False),
    ]
    return evaluate_translation_family(ctx, loaded, data_root, out_dir, jobs, options)  # type: ignore[arg-type]  # noqa: E501


SPEC = ModelSpec(
    name="cyclegan",
    summary="Unpaired A<->B translation: two ResNet generators, two PatchGANs, cycle L1",
    config_cls=CycleGANConfig,
    build=CycleGAN,
    dataset_format="unpaired",
    directions=("AtoB", "BtoA"),
    default_train={"epochs": 200, "size": 256, "batch_size": 1},
    tiny=(
        "generator.ngf=8",
        "generator.n_blocks=2",
        "discriminator.ndf=8",
        "discriminator.n_layers=2",
        "pool_size=4",
    ),
    evaluate=evaluate,
    demo=i2i.DemoRecipe(
        steps=800,
        overrides=(
            "generator.ngf=16",
            "generator.n_blocks=4",
            "discriminator.ndf=16",
            "discriminator.n_layers=2",
            "pool_size=20",
            "train.log_every=10",
            "train.sample_every=100",
            "train.checkpoint_every=200",
        ),
        train={"size": 64, "load_size": 72, "batch_size": 2},
        translate=(("AtoB", "testA"), ("BtoA", "testB")),
        summary="a small CycleGAN (ngf 16, 4 residual blocks) on shapes <-> textures at 64 px, "
        "about 2 minutes on 2 CPU cores",
    ),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(SPEC.name, SPEC)
