"""Pix2Pix: paired image-to-image translation with a conditional GAN.

Defaults follow the paper's recipe (Isola et al., 2017): a U-Net generator (unet_256, ngf 64,
batch norm, dropout 0.5 in the middle blocks), a conditional 70x70 PatchGAN that sees the input and
the output concatenated (ndf 64, batch norm), vanilla GAN loss, L1 x100, Adam 2e-4 / beta1 0.5,
constant LR for half the run then linear decay to 0, batch size 1. Each step updates D, then G,
as in the paper code.

Inference semantics (documented in docs/pix2pix.md): the paper runs the generator at test time
"in exactly the same manner as during training": batch norm with the statistics of the test batch
(batch size 1, i.e. each image's own statistics) and dropout on. i2i's inference module (used by
translate and export) keeps the first part — every batch-norm layer normalizes each image with its
own statistics, so results do not depend on batch composition — and turns dropout off, so outputs
are deterministic and exportable. ``inference_norm = "running"`` uses the running statistics
instead (the reference code's ``--eval``).

This module uses only i2i's public API, exactly like a third-party plugin.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

import i2i
from i2i import (
    DiscriminatorConfig,
    GeneratorConfig,
    InferenceInfo,
    ModelSpec,
    OptimConfig,
    ScheduleConfig,
    opt,
)
from i2i.nn import disable_dropout, gradient_penalty, per_image_batch_norm

DIRECTIONS = ("AtoB", "BtoA")
INFERENCE_NORMS = ("per_image", "running")


@dataclasses.dataclass(frozen=True)
class Pix2PixLossConfig:
    """Loss weights of Pix2Pix."""

    gan_mode: str = opt("vanilla", "GAN loss: vanilla | lsgan | hinge | wgangp")
    lambda_l1: float = opt(100.0, "weight of the L1 loss between output and target")
    gp_weight: float = opt(10.0, "gradient-penalty weight (gan_mode = wgangp only)")


@dataclasses.dataclass(frozen=True)
class Pix2PixConfig:
    """Pix2Pix options (``--set KEY=VALUE``)."""

    input_nc: int = opt(3, "channels of the input images (1 = grayscale, 3 = RGB)")
    output_nc: int = opt(3, "channels of the output images")
    direction: str = opt("AtoB", "which side of each pair is the input: AtoB or BtoA")
    generator: GeneratorConfig = opt(
        GeneratorConfig(arch="unet_256", ngf=64, norm="batch", dropout=0.5),
        "generator (unet_128 | unet_256 | unet with n_downsampling as depth | resnet)",
    )
    discriminator: DiscriminatorConfig = opt(
        DiscriminatorConfig(arch="patchgan", ndf=64, n_layers=3, norm="batch"),
        "conditional discriminator; sees input and output concatenated (patchgan | pixel)",
    )
    loss: Pix2PixLossConfig = opt(Pix2PixLossConfig(), "loss weights")
    inference_norm: str = opt(
        "per_image",
        "batch norm at inference: per_image (each image's own statistics, as the paper at "
        "batch size 1) | running (running statistics, the reference code's --eval)",
    )
    optim: OptimConfig = opt(OptimConfig(), "Adam settings")
    schedule: ScheduleConfig = opt(ScheduleConfig(), "learning-rate schedule")


def _sides(config: Pix2PixConfig) -> tuple[str, str]:
    return ("A", "B") if config.direction == "AtoB" else ("B", "A")


class Pix2Pix(i2i.GANModel):
    """A generator and a conditional discriminator trained with GAN + L1 losses."""

    def __init__(self, config: Pix2PixConfig, ctx: i2i.Context) -> None:
        super().__init__()
        if config.direction not in DIRECTIONS:
            raise i2i.ConfigError(f"direction must be AtoB or BtoA, got {config.direction!r}")
        if config.inference_norm not in INFERENCE_NORMS:
            raise i2i.ConfigError(
                f"inference_norm must be one of {', '.join(INFERENCE_NORMS)}, "
                f"got {config.inference_norm!r}"
            )
        for name in ("input_nc", "output_nc"):
            if getattr(config, name) < 1:
                raise i2i.ConfigError(f"{name} must be >= 1, got {getattr(config, name)}")
        self.config = config
        self.src, self.dst = _sides(config)
        gen = ctx.generators.get(config.generator.arch)
        disc = ctx.discriminators.get(config.discriminator.arch)
        self.G = gen(config.input_nc, config.output_nc, config.generator, ctx)
        self.D = disc(config.input_nc + config.output_nc, config.discriminator, ctx)
        self.gan_loss = ctx.losses.get(config.loss.gan_mode)()
        self.l1 = nn.L1Loss()

    # -- training ---------------------------------------------------------------------------
    def step_groups(self, step: int) -> tuple[str, ...]:
        return ("D", "G")  # the paper code updates D first, then G, on the same fake

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"fake": self.G(batch[self.src])}

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real_in, real_out, fake = batch[self.src], batch[self.dst], cache["fake"]
        if group == "D":
            fake_pair = torch.cat([real_in, fake.detach()], 1)
            real_pair = torch.cat([real_in, real_out], 1)
            loss = 0.5 * (
                self.gan_loss(self.D(fake_pair), False, for_discriminator=True)
                + self.gan_loss(self.D(real_pair), True, for_discriminator=True)
            )
            out = {"gan": loss}
            if getattr(self.gan_loss, "uses_gradient_penalty", False):
                out["gp"] = gradient_penalty(
                    self.D, real_pair, fake_pair.to(real_pair.dtype),
                    weight=self.config.loss.gp_weight,
                )  # fmt: skip
            return out
        if group == "G":
            pred = self.D(torch.cat([real_in, fake], 1))
            return {
                "gan": self.gan_loss(pred, True, for_discriminator=False),
                "l1": self.l1(fake, real_out) * self.config.loss.lambda_l1,
            }
        raise i2i.ConfigError(f"Pix2Pix has optimizer groups G and D, not '{group}'")

    # -- inference ----------------------------------------------------------------------------
    def _direction(self, direction: str | None) -> str:
        d = direction or self.config.direction
        if d != self.config.direction:
            raise i2i.ConfigError(
                f"this pix2pix model was trained {self.config.direction} and translates only "
                f"that way, not {d}; train with --set direction={d} for the other way"
            )
        return d

    def inference_directions(self) -> tuple[str, ...]:
        return (self.config.direction,)

    def inference_module(self, direction: str | None = None) -> nn.Module:
        """The generator with pix2pix's inference semantics (see the module docstring)."""
        self._direction(direction)
        if self.config.inference_norm == "per_image":
            g = per_image_batch_norm(self.G)
        else:
            g = copy.deepcopy(self.G).eval()
        return disable_dropout(g).eval()

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        d = self._direction(direction)
        return InferenceInfo(
            inputs=("image",),
            in_channels=self.config.input_nc,
            out_channels=self.config.output_nc,
            stride=int(getattr(self.G, "stride", 1)),
            direction=d,
        )

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {
            f"real_{self.src}": batch[self.src],
            f"fake_{self.dst}": cache["fake"],
            f"real_{self.dst}": batch[self.dst],
        }


def _channels(c: Pix2PixConfig) -> dict[str, int]:
    src, dst = _sides(c)
    return {src: c.input_nc, dst: c.output_nc}


def evaluate(
    ctx: i2i.Context, loaded: object, data_root: Path, out_dir: Path, *, options: object = None
) -> dict[str, object]:
    """The test split in the model's direction: FID / KID against the real targets, and LPIPS,
    PSNR, SSIM of each output against its own target; outputs, per-image CSV, best / worst
    examples and the nearest training images (see :mod:`i2i.metrics.evaluation`)."""
    from i2i.metrics.evaluation import TranslationJob, evaluate_translation_family

    jobs = [
        TranslationJob("AtoB", ("A",), "B", paired=True),
        TranslationJob("BtoA", ("B",), "A", paired=True),
    ]
    model = loaded.model  # type: ignore[attr-defined]
    jobs = [j for j in jobs if j.direction == model.inference_directions()[0]]
    return evaluate_translation_family(ctx, loaded, data_root, out_dir, jobs, options)  # type: ignore[arg-type]  # noqa: E501


SPEC = ModelSpec(
    name="pix2pix",
    summary="Paired A->B translation: U-Net generator, conditional PatchGAN, GAN + L1",
    config_cls=Pix2PixConfig,
    build=Pix2Pix,
    dataset_format="aligned",
    data_channels=_channels,
    directions=DIRECTIONS,
    default_train={"epochs": 200, "size": 256, "batch_size": 1},
    tiny=(
        "generator.arch=unet",
        "generator.n_downsampling=5",
        "generator.ngf=4",
        "discriminator.ndf=8",
        "discriminator.n_layers=2",
    ),
    evaluate=evaluate,
    demo=i2i.DemoRecipe(
        steps=1000,
        format="paired_folders",
        overrides=(
            "generator.arch=unet",
            "generator.n_downsampling=6",
            "train.log_every=50",
            "train.sample_every=200",
            "train.checkpoint_every=500",
        ),
        train={"size": 64, "load_size": 72, "batch_size": 4},
        translate=(("AtoB", "testA"),),
        summary="a U-Net pix2pix (6 downsamplings) turning sketches into pictures at 64 px, "
        "about 2-3 minutes on 2 CPU cores",
    ),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(SPEC.name, SPEC)
