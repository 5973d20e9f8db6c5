"""An i2i plugin: the `colorize` model family (grayscale -> colour, a generator and a
conditional PatchGAN, GAN + L1) and the `colorize` dataset format (a folder of colour images per
split; a sample is an image's grayscale version A and the image B)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import i2i
from i2i.nn import discriminator_loss

NAME = "colorize"
EXPECTED = "expected ROOT/<split>/ holding colour images (ROOT/train/; ROOT/test/ optional)"


@dataclasses.dataclass(frozen=True)
class ColorizeConfig:
    """Options of the `colorize` family (`--set KEY=VALUE`)."""

    input_nc: int = i2i.opt(1, "channels of the input (1 = grayscale)")
    output_nc: int = i2i.opt(3, "channels of the output (3 = RGB)")
    generator: i2i.GeneratorConfig = i2i.opt(i2i.GeneratorConfig(ngf=32, n_blocks=6), "generator")
    discriminator: i2i.DiscriminatorConfig = i2i.opt(i2i.DiscriminatorConfig(), "conditional D")
    gan_mode: str = i2i.opt("vanilla", "GAN loss: vanilla | lsgan | hinge | wgangp")
    lambda_l1: float = i2i.opt(100.0, "weight of the L1 loss to the real colours")
    optim: i2i.OptimConfig = i2i.opt(i2i.OptimConfig(), "Adam settings")
    schedule: i2i.ScheduleConfig = i2i.opt(i2i.ScheduleConfig(), "learning-rate schedule")


class Colorize(i2i.GANModel):
    """G: grayscale -> colour; D judges (grayscale, colour) pairs. Optimizer groups, inference
    module and info, direction (AtoB) and sample images: i2i.GANModel's defaults."""

    def __init__(self, config: ColorizeConfig, ctx: i2i.Context) -> None:
        super().__init__()
        c = self.config = config
        self.G = ctx.generators.get(c.generator.arch)(c.input_nc, c.output_nc, c.generator, ctx)
        d_in = c.input_nc + c.output_nc
        self.D = ctx.discriminators.get(c.discriminator.arch)(d_in, c.discriminator, ctx)
        self.gan_loss = ctx.losses.get(c.gan_mode)()

    def forward_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"fake_B": self.G(batch["A"])}

    def losses(self, group: str, batch: dict, cache: dict) -> dict[str, torch.Tensor]:
        gray, real, fake = batch["A"], batch["B"], cache["fake_B"]
        real_pair, fake_pair = torch.cat([gray, real], 1), torch.cat([gray, fake], 1)
        if group == "D":
            return {"D": discriminator_loss(self.gan_loss, self.D, real_pair, fake_pair)}
        gan = self.gan_loss(self.D(fake_pair), True, for_discriminator=False)
        return {"gan": gan, "l1": F.l1_loss(fake, real) * self.config.lambda_l1}


def _folders(root: Path, split: str) -> dict[str, Path]:
    return {"B": Path(root) / i2i.check_split(split, NAME, "ROOT/<split>/")}


def validate(root: Path, options: i2i.DataOptions) -> i2i.DatasetReport:
    folders = _folders(root, options.split)
    return i2i.validate_image_folders(root, folders, options, format_name=NAME, expected=EXPECTED)


class ColorizeImages(i2i.FolderDataset):
    """A sample: an image's grayscale version (A) and the image (B), with the same crop/flip."""

    def __init__(self, root: Path, options: i2i.DataOptions) -> None:
        folders = _folders(root, options.split)
        files = i2i.list_image_folders(root, folders, format_name=NAME, expected=EXPECTED)
        super().__init__(root, options, files["B"])

    def read_sample(self, path: Path) -> dict[str, np.ndarray]:
        rgb = self.read(path, self.options.channels.get("B", 3))
        return {"A": i2i.convert_channels(rgb, self.options.channels.get("A", 1)), "B": rgb}


FORMAT = i2i.DatasetFormatSpec(
    NAME, "Colour images per split (ROOT/train/): grayscale A, colour B", keys=("A", "B"),
    validate=validate, build=ColorizeImages, demo=i2i.make_images_demo,
)  # fmt: skip
SPEC = i2i.ModelSpec(
    name=NAME,
    summary="Grayscale -> colour: a generator and a conditional PatchGAN, GAN + L1",
    config_cls=ColorizeConfig,
    build=Colorize,
    dataset_format=NAME,
    default_train={"epochs": 100, "size": 256, "batch_size": 1},
    tiny=("generator.ngf=8", "generator.n_blocks=2", "discriminator.ndf=8"),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(NAME, SPEC)


@i2i.hookimpl
def i2i_register_dataset_formats(registrar: i2i.Registrar) -> None:
    registrar.add(NAME, FORMAT)
