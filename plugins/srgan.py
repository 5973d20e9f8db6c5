"""Super-resolution GAN (SRGAN / ESRGAN style): x2 / x4 upscaling as a model family.

Defaults follow ESRGAN (Wang et al., 2018) as BasicSR trains it, with Real-ESRGAN's U-Net
discriminator: an RRDB generator (nf 64, 23 blocks, growth 32, nearest + conv upsampling), a
U-Net discriminator with spectral norm (ndf 64), and two stages in one run:

1. **PSNR-oriented warm-up** (``pretrain_steps``): the generator alone, pixel L1 x1;
2. **GAN fine-tuning**: pixel L1 x0.01 + VGG19 perceptual loss (conv5_4 before activation, x1;
   weights from a local file, ``--set vgg_weights=PATH``; off with a log line otherwise) +
   relativistic average GAN loss (RaGAN, BCE base) x0.005; generator step, then discriminator.

Adam 1e-4, betas (0.9, 0.99) for both networks, an EMA of the generator (decay 0.999) used for
samples, translation, export and evaluation. The stage is a function of the step, so a resumed run
continues in the right stage. ``generator.arch = srresnet`` gives SRGAN's residual network
(16 blocks, pixel shuffle); ``discriminator.arch = vgg`` ESRGAN's VGG-style discriminator for
fixed-size patches.

Data: the ``sr`` format (a folder of HR images, LR made on the fly with kornia, bicubic with
antialiasing plus optional blur / noise / JPEG; or HR/ + LR/ folders). ``i2i eval RUN HR_DIR``
reports PSNR and SSIM (Y channel with a ``scale``-pixel border crop, and RGB) against bicubic
upscaling, with a per-image CSV.

This module uses only i2i's public API, exactly like a third-party plugin.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import InferenceInfo, ModelSpec, OptimConfig, ScheduleConfig, opt
from i2i.nn import (
    ModelEMA,
    RelativisticAverageGANLoss,
    RRDBNet,
    SRResNet,
    UNetDiscriminator,
    VGGStyleDiscriminator,
    pixel_loss,
    vgg_loss_or_none,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SRGeneratorConfig:
    """The super-resolution generator."""

    arch: str = opt("rrdb", "rrdb (ESRGAN) | srresnet (SRGAN, no batch norm)")
    nf: int = opt(64, "feature channels")
    n_blocks: int = opt(23, "RRDB blocks (ESRGAN: 23) or residual blocks (SRResNet: 16)")
    growth: int = opt(32, "growth channels of the RRDB dense blocks")
    upsampler: str = opt(
        "auto", "auto (rrdb: nearest, srresnet: pixelshuffle) | nearest | pixelshuffle"
    )
    pixel_unshuffle: int = opt(
        1,
        "rrdb: pixel-unshuffle the input by this factor first, the trunk upscaling by scale x "
        "factor (Real-ESRGAN x2: 2, x1: 4; 1 = off); inputs are padded to multiples of it",
    )
    value_range: tuple[float, float] = opt(
        (-1.0, 1.0),
        "value range the generator's layers work in; images are mapped into it and back "
        "around the network ([0, 1] for BasicSR / ESRGAN / Real-ESRGAN weights)",
    )


@dataclasses.dataclass(frozen=True)
class SRDiscriminatorConfig:
    """The discriminator of the GAN stage."""

    arch: str = opt("unet", "unet (Real-ESRGAN, per-pixel, any size) | vgg (ESRGAN, fixed size)")
    ndf: int = opt(64, "base channels")
    spectral_norm: bool = opt(True, "spectral norm (unet: inner convs; vgg: all layers)")
    input_size: int = opt(128, "vgg only: the HR patch size it judges (= the training size)")


@dataclasses.dataclass(frozen=True)
class SRLossConfig:
    """Loss weights of the two stages."""

    pixel: str = opt("l1", "pixel loss: l1 | l2 | charbonnier")
    pixel_weight_pretrain: float = opt(1.0, "pixel-loss weight in the PSNR-oriented warm-up")
    pixel_weight: float = opt(0.01, "pixel-loss weight in the GAN stage")
    perceptual_weight: float = opt(1.0, "VGG19 perceptual-loss weight (needs vgg_weights)")
    perceptual_layer: str = opt("conv5_4", "VGG19 layer compared (before its activation)")
    gan_mode: str = opt("vanilla", "base GAN loss: vanilla | lsgan | hinge")
    relativistic: bool = opt(True, "relativistic average GAN (ESRGAN's RaGAN)")
    gan_weight: float = opt(0.005, "adversarial-loss weight")


@dataclasses.dataclass(frozen=True)
class SRDegradationConfig:
    """How training LR images are made from HR crops (``sr`` format; bicubic always)."""

    blur_sigma: float = opt(0.0, "max Gaussian blur sigma before downscaling (0 = off)")
    noise_std: float = opt(0.0, "max Gaussian noise std on [0, 1] LR values (0 = off)")
    jpeg_quality: int = opt(0, "lowest JPEG quality of the LR (0 = off; else [q, 95])")


@dataclasses.dataclass(frozen=True)
class SRGANConfig:
    """Super-resolution GAN options (``--set KEY=VALUE``)."""

    scale: int = opt(4, "upscaling factor: 2 or 4 (3 and 8 also work; 1 = restoration)")
    channels: int = opt(3, "image channels (3 = RGB, 1 = grayscale)")
    pretrain_steps: int = opt(
        100_000, "PSNR-oriented warm-up steps (generator + pixel loss) before the GAN stage"
    )
    lr_pretrain: float = opt(
        2e-4, "generator learning rate in the warm-up (BasicSR's PSNR model: 2e-4; 0 = optim.lr)"
    )
    generator: SRGeneratorConfig = opt(SRGeneratorConfig(), "generator")
    discriminator: SRDiscriminatorConfig = opt(SRDiscriminatorConfig(), "discriminator")
    loss: SRLossConfig = opt(SRLossConfig(), "losses")
    degradation: SRDegradationConfig = opt(SRDegradationConfig(), "training degradations")
    rot90: bool = opt(
        True, "augment training crops with vertical flips and 90-degree rotations (BasicSR)"
    )
    vgg_weights: str = opt(
        "", "local torchvision VGG19 state-dict file for the perceptual loss (empty = loss off)"
    )
    ema_decay: float = opt(0.999, "EMA of the generator used for inference (0 = off)")
    optim: OptimConfig = opt(
        OptimConfig(lr=1e-4, beta1=0.9, beta2=0.99), "Adam settings (lr_d: D's lr, 0 = lr)"
    )
    schedule: ScheduleConfig = opt(ScheduleConfig(), "learning-rate schedule")


def _rrdb(cfg: SRGANConfig) -> nn.Module:
    g = cfg.generator
    up = "nearest" if g.upsampler == "auto" else g.upsampler
    return RRDBNet(
        cfg.channels, cfg.channels, cfg.scale, g.nf, g.n_blocks, g.growth, up,
        pixel_unshuffle=g.pixel_unshuffle, value_range=g.value_range,
    )  # fmt: skip


def _srresnet(cfg: SRGANConfig) -> nn.Module:
    g = cfg.generator
    if g.pixel_unshuffle != 1:
        raise i2i.ConfigError(
            "generator.pixel_unshuffle is an rrdb option; set it to 1 for arch srresnet"
        )
    up = "pixelshuffle" if g.upsampler == "auto" else g.upsampler
    return SRResNet(
        cfg.channels, cfg.channels, cfg.scale, g.nf, g.n_blocks, up, value_range=g.value_range
    )


def _unet_d(cfg: SRGANConfig) -> nn.Module:
    d = cfg.discriminator
    return UNetDiscriminator(cfg.channels, d.ndf, spectral=d.spectral_norm)


def _vgg_d(cfg: SRGANConfig) -> nn.Module:
    d = cfg.discriminator
    return VGGStyleDiscriminator(
        cfg.channels, d.ndf, input_size=d.input_size, norm="none" if d.spectral_norm else "batch",
        spectral=d.spectral_norm,
    )  # fmt: skip


#: Generator and discriminator builders by ``arch`` name.
GENERATORS: dict[str, Callable[[SRGANConfig], nn.Module]] = {
    "rrdb": _rrdb,
    "srresnet": _srresnet,
}
DISCRIMINATORS: dict[str, Callable[[SRGANConfig], nn.Module]] = {
    "unet": _unet_d,
    "vgg": _vgg_d,
}


def _lookup(table: Mapping[str, Any], what: str, name: str) -> Any:
    if name not in table:
        raise i2i.ConfigError(
            f"unknown {what} {name!r}; expected one of: {', '.join(table)} (set {what})"
        )
    return table[name]


class SRInference(nn.Module):
    """``lr -> sr``: the (EMA) generator with the output clamped to [-1, 1]."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x).clamp(-1.0, 1.0)


class SRGAN(i2i.GANModel):
    """SR generator (+ EMA) and discriminator; PSNR warm-up, then GAN fine-tuning."""

    def __init__(self, config: SRGANConfig, ctx: i2i.Context) -> None:
        super().__init__()
        if config.scale not in (1, 2, 3, 4, 8):
            raise i2i.ConfigError(
                f"scale must be 1, 2, 3, 4 or 8 (usually 2 or 4), got {config.scale}"
            )
        if not (math.isfinite(config.lr_pretrain) and config.lr_pretrain >= 0):
            raise i2i.ConfigError(
                f"lr_pretrain must be >= 0 (0 = optim.lr), got {config.lr_pretrain}"
            )
        if config.pretrain_steps < 0:
            raise i2i.ConfigError(
                f"pretrain_steps must be >= 0 (0 = GAN from the start), got {config.pretrain_steps}"
            )
        self.config = config
        self._gan_stage = config.pretrain_steps == 0
        self.G = _lookup(GENERATORS, "generator.arch", config.generator.arch)(config)
        self.D = _lookup(DISCRIMINATORS, "discriminator.arch", config.discriminator.arch)(config)
        self.G_ema = ModelEMA(self.G, decay=config.ema_decay) if config.ema_decay > 0 else None
        lc = config.loss
        self.pixel = pixel_loss(lc.pixel)
        base = ctx.losses.get(lc.gan_mode)()
        if getattr(base, "uses_gradient_penalty", False):
            raise i2i.ConfigError("srgan supports gan_mode vanilla, lsgan or hinge, not wgangp")
        self.gan_loss = base
        self.ra_loss = RelativisticAverageGANLoss(base) if lc.relativistic else None
        if lc.perceptual_weight <= 0:
            log.info("VGG perceptual loss is off (loss.perceptual_weight = 0)")
            self.vgg = None
        else:
            self.vgg = vgg_loss_or_none(
                config.vgg_weights or None, log, layers=(lc.perceptual_layer,), weights=(1.0,),
            )  # fmt: skip

    # -- training ---------------------------------------------------------------------------
    def in_gan_stage(self, step: int) -> bool:
        """Whether 0-based ``step`` is in the GAN stage (after the PSNR-oriented warm-up)."""
        return step >= self.config.pretrain_steps

    def lr_scale(self, group: str, step: int) -> float:
        """The warm-up trains G at ``lr_pretrain`` (the GAN stage at ``optim.lr``)."""
        lr_pretrain, lr = self.config.lr_pretrain, self.config.optim.lr
        if group == "G" and lr_pretrain > 0 and lr > 0 and not self.in_gan_stage(step):
            return lr_pretrain / lr
        return 1.0

    def step_groups(self, step: int) -> tuple[str, ...]:
        # the trainer asks for the groups of each step before computing its losses: remember
        # the stage for :meth:`losses` (a pure function of the step, so resuming restores it)
        self._gan_stage = self.in_gan_stage(step)
        return ("G", "D") if self._gan_stage else ("G",)

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"fake": self.G(batch["lr"])}

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        hr, fake = batch["hr"], cache["fake"]
        lc = self.config.loss
        if group == "G":
            if not self._gan_stage:
                return {"pixel": self.pixel(fake, hr) * lc.pixel_weight_pretrain}
            out = {"pixel": self.pixel(fake, hr) * lc.pixel_weight}
            if self.vgg is not None:
                out["perceptual"] = self.vgg(fake, hr) * lc.perceptual_weight
            pred_fake = self.D(fake)
            if self.ra_loss is not None:
                with torch.no_grad():
                    pred_real = self.D(hr.to(fake.dtype))
                out["gan"] = self.ra_loss(pred_real, pred_fake, False) * lc.gan_weight
            else:
                out["gan"] = self.gan_loss(pred_fake, True, False) * lc.gan_weight
            return out
        if group == "D":
            n = hr.shape[0]
            pred = self.D(torch.cat([hr.to(fake.dtype), fake.detach()]))
            pred_real, pred_fake = pred[:n], pred[n:]
            if self.ra_loss is not None:
                return {"ra": self.ra_loss(pred_real, pred_fake, True)}
            return {
                "real": self.gan_loss(pred_real, True, True),
                "fake": self.gan_loss(pred_fake, False, True),
            }
        raise i2i.ConfigError(f"srgan has optimizer groups G and D, not '{group}'")

    def after_step(self, group: str, step: int) -> None:
        if group == "G" and self.G_ema is not None:
            self.G_ema.update(self.G)

    # -- inference ----------------------------------------------------------------------------
    def inference_directions(self) -> tuple[str, ...]:
        return ("AtoB",)

    def _direction(self, direction: str | None) -> str:
        if direction not in (None, "AtoB"):
            raise i2i.ConfigError(f"srgan upscales in direction 'AtoB', not {direction!r}")
        return "AtoB"

    def inference_module(self, direction: str | None = None) -> nn.Module:
        """LR image in [-1, 1] -> SR image in [-1, 1], ``scale`` times larger (EMA weights)."""
        self._direction(direction)
        g = self.G_ema.module if self.G_ema is not None else self.G
        return SRInference(copy.deepcopy(g)).eval()

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        self._direction(direction)
        return InferenceInfo(
            inputs=("image",),
            in_channels=self.config.channels,
            out_channels=self.config.channels,
            stride=int(getattr(self.G, "stride", 1)),
            scale=self.config.scale,
            direction="AtoB",
        )

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        lr = batch["lr"]
        up = F.interpolate(lr.float(), scale_factor=self.config.scale, mode="nearest")
        return {"lr": up, "fake": cache["fake"].float().clamp(-1, 1), "hr": batch["hr"]}


# -- evaluation ---------------------------------------------------------------------------------
def _by_stem(files: list[Path], folder: Path) -> dict[str, Path]:
    from i2i.datasets.image_io import format_file_list

    counts = Counter(p.stem for p in files)
    dup = sorted(k for k, n in counts.items() if n > 1)
    if dup:
        raise i2i.DatasetError(
            f"several files in '{folder}' share a name without extension: "
            f"{format_file_list(dup)}; keep one file per name"
        )
    return {p.stem: p for p in files}


def _eval_pairs(root: Path) -> list[tuple[str, Path, Path | None]]:
    """``(name, hr_path, lr_path or None)`` for an eval folder: an ``sr`` dataset root (its
    ``test/`` split, else ``val/``), a folder with ``HR/`` (+ ``LR/``), or a folder of HR images.

    Raises:
        ConfigError: ``root`` is not a folder.
        DatasetError: a dataset root with only ``train/`` (no held-out split), ``LR/`` files
            without an ``HR/`` partner or the reverse, or two files of one name.
    """
    from i2i.datasets.image_io import format_file_list, list_images

    root = Path(root)
    if not root.is_dir():
        raise i2i.ConfigError(f"{root} is not a folder; give a folder of HR images")
    for split in ("test", "val"):
        if (root / split).is_dir():
            root = root / split
            break
    else:
        if (root / "train").is_dir() and not (root / "HR").is_dir():
            raise i2i.DatasetError(
                f"'{root}' has train/ but no test/ or val/ folder of held-out images; add one, "
                f"or pass '{root / 'train'}' to evaluate on the training images"
            )
    if not (root / "HR").is_dir():
        return [(p.stem, p, None) for p in list_images(root)]
    hr = _by_stem(list_images(root / "HR"), root / "HR")
    if not (root / "LR").is_dir():
        return [(k, hr[k], None) for k in sorted(hr)]
    lr = _by_stem(list_images(root / "LR"), root / "LR")
    only_hr, only_lr = sorted(set(hr) - set(lr)), sorted(set(lr) - set(hr))
    if only_hr or only_lr:
        parts = [f"HR/ without LR/: {format_file_list(only_hr)}"] if only_hr else []
        parts += [f"LR/ without HR/: {format_file_list(only_lr)}"] if only_lr else []
        raise i2i.DatasetError(
            f"unmatched names in '{root}' ({'; '.join(parts)}); HR/ and LR/ files pair by name "
            "without extension — add the partners, or remove LR/ to make LR images by bicubic"
        )
    return [(k, hr[k], lr[k]) for k in sorted(hr)]


def evaluate(
    ctx: i2i.Context,
    loaded: object,
    data_root: Path,
    out_dir: Path,
    *,
    save_images: bool = True,
    options: object = None,
) -> dict[str, object]:
    """PSNR / SSIM (and LPIPS) of the (EMA) generator against bicubic upscaling, per image and
    on average.

    ``data_root``: a folder of HR images, a folder with ``HR/`` (+ ``LR/``), or an ``sr``
    dataset root (its ``test`` split). Each HR image is mod-cropped to a multiple of ``scale``;
    its LR input is the ``LR/`` file of the same name when there is one, else the HR image
    downscaled with the training's bicubic (antialiased) degradation. Metrics: PSNR and SSIM on
    the BT.601 Y channel with a ``scale``-pixel border crop (the SR literature's protocol) and
    PSNR on RGB, for the model and for bicubic upscaling of the same LR, on 8-bit quantized
    outputs (what saved images hold). Writes ``per_image.csv`` (with a mean row) and, with
    ``save_images``, the SR outputs under ``sr/``.
    """
    from i2i.datasets.image_io import write_image
    from i2i.datasets.sr import bicubic_downscale
    from i2i.metrics.image import bicubic_upscale, mod_crop, psnr, ssim
    from i2i.metrics.report import summarize, write_csv

    model = loaded.model.eval()  # type: ignore[attr-defined]
    cfg: SRGANConfig = model.config
    s = cfg.scale
    pairs = _eval_pairs(Path(data_root))
    if not pairs:
        raise i2i.DatasetError(f"no images found in {data_root}; give a folder of HR images")
    from i2i.metrics.evaluation import Evaluator, examples, neighbour_report, score

    net = model.inference_module(None)
    device = next(net.parameters()).device
    ev = Evaluator(options, device)  # type: ignore[arg-type]
    lpips_net = ev.lpips() if ev.wants("lpips") else None
    rows, files, shown = [], [], []
    for name, hr_path, lr_path in pairs:
        hr = np.ascontiguousarray(mod_crop(ctx.load_image(hr_path, cfg.channels), s))
        hr_t = torch.from_numpy(hr).permute(2, 0, 1)[None].float()
        if lr_path is not None:
            lr_t = torch.from_numpy(ctx.load_image(lr_path, cfg.channels)).permute(2, 0, 1)[None]
            if tuple(lr_t.shape[-2:]) != (hr.shape[0] // s, hr.shape[1] // s):
                raise i2i.DatasetError(
                    f"{lr_path} is {lr_t.shape[-1]}x{lr_t.shape[-2]}, expected "
                    f"{hr.shape[1] // s}x{hr.shape[0] // s} (HR / {s}); fix the LR image"
                )
        else:
            lr_t = bicubic_downscale(hr_t, s)
        with torch.no_grad():
            sr_t = net(lr_t.float().to(device) * 2 - 1).float().cpu()
        sr = ((sr_t[0].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()
        sr = np.round(sr * 255) / 255  # what a saved 8-bit image holds
        bic = bicubic_upscale(lr_t[0].permute(1, 2, 0).numpy(), s)
        bic = np.round(bic * 255) / 255
        y = cfg.channels == 3
        rows.append({
            "image": name,
            "psnr_y": psnr(sr, hr, crop_border=s, y_channel=y),
            "ssim_y": ssim(sr, hr, crop_border=s, y_channel=y),
            "psnr_rgb": psnr(sr, hr, crop_border=s),
            "bicubic_psnr_y": psnr(bic, hr, crop_border=s, y_channel=y),
            "bicubic_ssim_y": ssim(bic, hr, crop_border=s, y_channel=y),
            "bicubic_psnr_rgb": psnr(bic, hr, crop_border=s),
        })  # fmt: skip
        rows[-1]["psnr_y_gain"] = rows[-1]["psnr_y"] - rows[-1]["bicubic_psnr_y"]
        if lpips_net is not None:
            t = {k: torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1)[None].float()
                 for k, v in (("sr", sr), ("bic", bic), ("hr", hr))}  # fmt: skip
            t = {k: (v.expand(-1, 3, -1, -1) * 2 - 1).to(device) for k, v in t.items()}
            with torch.no_grad():
                rows[-1]["lpips"] = float(lpips_net(t["sr"], t["hr"])[0])
                rows[-1]["bicubic_lpips"] = float(lpips_net(t["bic"], t["hr"])[0])
        if save_images:
            write_image(Path(out_dir) / "sr" / f"{name}.png", sr.astype(np.float32))
            write_image(Path(out_dir) / "hr" / f"{name}.png", hr.astype(np.float32))
            write_image(Path(out_dir) / "bicubic" / f"{name}.png", bic.astype(np.float32))
            files.append([f"bicubic/{name}.png", f"sr/{name}.png", f"hr/{name}.png"])
        if len(shown) < 8:
            shown.append(torch.from_numpy(np.ascontiguousarray(sr)).permute(2, 0, 1) * 2 - 1)
    write_csv(rows, Path(out_dir) / "per_image.csv", key="image")
    mean = summarize(rows)
    train = _training_hr(ctx, Path(data_root), cfg.channels)
    return {
        "images": len(rows),
        "scale": s,
        **{k: float(v) for k, v in mean.items()},
        "psnr_y_gain_over_bicubic": float(mean["psnr_y"] - mean["bicubic_psnr_y"]),
        "score": score("psnr_y", mean["psnr_y"], False),
        **({"examples": examples(rows, "psnr_y_gain", False, files)} if save_images else {}),
        **neighbour_report([(shown, train)], Path(out_dir) / "nearest.png"),
        **ev.summary(),
    }


def _training_hr(
    ctx: i2i.Context, root: Path, channels: int, limit: int = 200
) -> list[torch.Tensor]:
    """Up to ``limit`` training HR images (``train/`` or ``train/HR/``) for the
    nearest-neighbour view, as tensors in [-1, 1]; empty when the data has no training split."""
    from i2i.datasets.image_io import list_images

    folder = root / "train" / "HR" if (root / "train" / "HR").is_dir() else root / "train"
    if not folder.is_dir():
        return []
    paths = list_images(folder)[:limit]
    return [torch.from_numpy(ctx.load_image(p, channels)).permute(2, 0, 1) * 2 - 1 for p in paths]


def _data_params(c: SRGANConfig) -> dict[str, Any]:
    d = c.degradation
    return {
        "scale": c.scale,
        "blur_sigma": d.blur_sigma,
        "noise_std": d.noise_std,
        "jpeg_quality": d.jpeg_quality,
        "rot90": c.rot90,
    }


SPEC = ModelSpec(
    name="srgan",
    summary="Super-resolution x2/x4 (ESRGAN): RRDB generator, U-Net D, PSNR warm-up then RaGAN",
    config_cls=SRGANConfig,
    build=SRGAN,
    dataset_format="sr",
    batch_keys=("lr", "hr"),
    data_channels=lambda c: {"lr": c.channels, "hr": c.channels},
    directions=("AtoB",),
    # the sr format crops HR images as they are (load_size -1: no resize)
    default_train={"steps": 200_000, "size": 128, "load_size": -1, "batch_size": 16},
    tiny=(
        "generator.nf=8",
        "generator.n_blocks=1",
        "generator.growth=4",
        "discriminator.ndf=8",
        "pretrain_steps=1",
    ),
    evaluate=evaluate,
    data_params=_data_params,
    demo=i2i.DemoRecipe(
        steps=1540,
        overrides=(
            "scale=2",
            "pretrain_steps=1500",
            "lr_pretrain=0.002",
            "ema_decay=0.99",
            "generator.arch=srresnet",
            "generator.nf=32",
            "generator.n_blocks=6",
            "train.log_every=100",
            "train.sample_every=500",
            "train.checkpoint_every=500",
        ),
        train={"size": 64, "batch_size": 8},
        translate=(("AtoB", "test"),),
        evaluate=True,
        summary="a small x2 SRResNet: 1500 PSNR warm-up steps, then 40 GAN steps; PSNR/SSIM "
        "against bicubic on the held-out images, about 2 minutes on 2 CPU cores",
    ),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(SPEC.name, SPEC)
