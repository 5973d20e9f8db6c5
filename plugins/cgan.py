"""Class-conditional GAN: images from a class label and noise (SNGAN / BigGAN lineage).

Generator: residual up-blocks with conditional batch norm (per-class gamma and beta), spectral
norm, optional self-attention. Discriminator: residual down-blocks with spectral norm and a
projection head (Miyato & Koyama, 2018); optionally an auxiliary classifier (AC-GAN) and a
minibatch-stddev layer. Hinge loss by default (vanilla and WGAN-GP selectable), TTUR (G 1e-4,
D 4e-4, Adam betas (0, 0.999)), an EMA of the generator for sampling and export.

The class count comes from the dataset (one folder per class) unless set explicitly.
This module uses only i2i's public API, exactly like a third-party plugin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import i2i
from i2i import InferenceInfo, ModelSpec, OptimConfig, ScheduleConfig, opt
from i2i.nn import ConditionalGenerator, ModelEMA, ProjectionDiscriminator, gradient_penalty


@dataclasses.dataclass(frozen=True)
class CGANGeneratorConfig:
    """The conditional generator."""

    z_dim: int = opt(128, "noise dimension")
    ngf: int = opt(64, "channels of the generator (widest block has 4 x ngf)")
    attention_resolution: int = opt(0, "self-attention at this resolution (0 = none)")
    spectral_norm: bool = opt(True, "spectral norm on the generator's layers")


@dataclasses.dataclass(frozen=True)
class CGANDiscriminatorConfig:
    """The projection discriminator."""

    ndf: int = opt(64, "channels of the discriminator")
    attention_resolution: int = opt(0, "self-attention at this resolution (0 = none)")
    minibatch_std: bool = opt(False, "minibatch standard-deviation layer before the last block")
    aux_classifier: bool = opt(False, "also train an auxiliary classifier head (AC-GAN)")
    spectral_norm: bool = opt(True, "spectral norm on the discriminator's layers")


@dataclasses.dataclass(frozen=True)
class CGANLossConfig:
    """Losses of the class-conditional GAN."""

    gan_mode: str = opt("hinge", "GAN loss: hinge | vanilla | wgangp")
    lambda_aux: float = opt(1.0, "weight of the auxiliary classification loss (aux_classifier)")
    gp_weight: float = opt(10.0, "gradient-penalty weight (gan_mode = wgangp only)")


@dataclasses.dataclass(frozen=True)
class CGANConfig:
    """Class-conditional GAN options (``--set KEY=VALUE``)."""

    num_classes: int = opt(0, "number of classes (0 = from the dataset's class folders)")
    image_size: int = opt(32, "output size in pixels (32 or 64; 4 x 2^k)")
    channels: int = opt(3, "image channels (1 = grayscale, 3 = RGB)")
    generator: CGANGeneratorConfig = opt(CGANGeneratorConfig(), "generator")
    discriminator: CGANDiscriminatorConfig = opt(CGANDiscriminatorConfig(), "discriminator")
    loss: CGANLossConfig = opt(CGANLossConfig(), "losses")
    n_critic: int = opt(1, "discriminator steps per generator step")
    ema_decay: float = opt(0.999, "EMA of the generator used for sampling (0 = off)")
    optim: OptimConfig = opt(
        OptimConfig(lr=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.999),
        "Adam settings (TTUR: lr for G, lr_d for D)",
    )
    schedule: ScheduleConfig = opt(ScheduleConfig(kind="constant"), "learning-rate schedule")


class _Sampler(nn.Module):
    """Inference module: ``forward(z, y) -> image`` (exported with inputs ``z`` and ``class``)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.generator(z, y)


class CGAN(i2i.GANModel):
    """Conditional generator + projection discriminator with hinge loss and a generator EMA."""

    def __init__(self, config: CGANConfig, ctx: i2i.Context) -> None:
        super().__init__()
        if config.num_classes < 2:
            raise i2i.ConfigError(
                "num_classes must be >= 2 (train on a class-folder dataset, or set num_classes)"
            )
        if config.n_critic < 1:
            raise i2i.ConfigError(f"n_critic must be >= 1, got {config.n_critic}")
        self.config = config
        g, d = config.generator, config.discriminator
        self.G = ConditionalGenerator(
            z_dim=g.z_dim, num_classes=config.num_classes, ngf=g.ngf,
            image_size=config.image_size, out_channels=config.channels,
            spectral_norm=g.spectral_norm, attention_resolution=g.attention_resolution,
        )  # fmt: skip
        self.D = ProjectionDiscriminator(
            in_channels=config.channels, num_classes=config.num_classes, ndf=d.ndf,
            image_size=config.image_size, spectral_norm=d.spectral_norm,
            attention_resolution=d.attention_resolution, minibatch_std=d.minibatch_std,
            aux_classifier=d.aux_classifier,
        )  # fmt: skip
        self.G_ema = ModelEMA(self.G, decay=config.ema_decay) if config.ema_decay > 0 else None
        self.gan_loss = ctx.losses.get(config.loss.gan_mode)()

    # -- training ---------------------------------------------------------------------------
    def step_groups(self, step: int) -> tuple[str, ...]:
        return ("D",) * self.config.n_critic + ("G",)

    def _noise(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(n, self.config.generator.z_dim, device=device)
        y = torch.randint(0, self.config.num_classes, (n,), device=device)
        return z, y

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        real = batch["image"]
        z, y = self._noise(real.shape[0], real.device)
        return {"fake": self.G(z, y), "fake_class": y}

    def _d(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.D(x, y)
        return out if isinstance(out, tuple) else (out, None)

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real, y_real = batch["image"], batch["class"].long()
        y_fake = cache["fake_class"]
        lc = self.config.loss
        if group == "D":
            fake = cache["fake"].detach()
            real_logit, real_cls = self._d(real, y_real)
            fake_logit, _ = self._d(fake, y_fake)
            out = {
                "real": self.gan_loss(real_logit, True, for_discriminator=True),
                "fake": self.gan_loss(fake_logit, False, for_discriminator=True),
            }
            if real_cls is not None:
                out["aux"] = F.cross_entropy(real_cls.float(), y_real) * lc.lambda_aux
            if getattr(self.gan_loss, "uses_gradient_penalty", False):
                out["gp"] = gradient_penalty(
                    lambda x: self._d(x, y_real)[0], real, fake.to(real.dtype),
                    weight=lc.gp_weight,
                )  # fmt: skip
            return out
        if group == "G":
            fake_logit, fake_cls = self._d(cache["fake"], y_fake)
            out = {"gan": self.gan_loss(fake_logit, True, for_discriminator=False)}
            if fake_cls is not None:
                out["aux"] = F.cross_entropy(fake_cls.float(), y_fake) * lc.lambda_aux
            return out
        raise i2i.ConfigError(f"cGAN has optimizer groups G and D, not '{group}'")

    def after_step(self, group: str, step: int) -> None:
        if group == "G" and self.G_ema is not None:
            self.G_ema.update(self.G)

    # -- inference ----------------------------------------------------------------------------
    def inference_directions(self) -> tuple[str, ...]:
        return ("sample",)

    def inference_module(self, direction: str | None = None) -> nn.Module:
        self._direction(direction)
        return _Sampler(self.G_ema.module if self.G_ema is not None else self.G).eval()

    def _direction(self, direction: str | None) -> str:
        if direction not in (None, "sample"):
            raise i2i.ConfigError("cGAN models sample images; direction must be 'sample'")
        return "sample"

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        self._direction(direction)
        return InferenceInfo(
            inputs=("noise", "class"),
            in_channels=self.config.generator.z_dim,
            out_channels=self.config.channels,
            stride=1,
            direction="sample",
            num_classes=self.config.num_classes,
        )

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"real": batch["image"], "fake": cache["fake"]}


def evaluate(
    ctx: i2i.Context,
    loaded: object,
    data_root: Path,
    out_dir: Path,
    *,
    samples_per_class: int = 100,
    seed: int = 0,
    classifier_epochs: int = 20,
    options: object = None,
) -> dict[str, object]:
    """Class accuracy, IS and FID / KID of generated samples, and a memorization view.

    A classifier is trained on the real training images (cached in ``out_dir`` and retrained
    only when the data changes), then ``samples_per_class`` samples of every class are drawn
    from the EMA generator with a fixed seed and classified. With the Inception weights, the
    samples' Inception Score and their FID / KID against the real images are reported too.
    ``nearest.png`` shows samples beside their closest training images (pixel L2);
    ``per_class.csv`` lists accuracy per class; ``examples`` are the samples the classifier
    finds most and least like their class.
    """
    from i2i.datasets.image_io import write_image
    from i2i.metrics.classifier import (
        class_accuracy,
        dataset_fingerprint,
        load_or_train_classifier,
        nearest_neighbours,
        neighbour_grid,
    )
    from i2i.metrics.report import write_csv

    model = loaded.model.eval()  # type: ignore[attr-defined]
    cfg: CGANConfig = model.config
    fmt = ctx.dataset_formats.get(SPEC.dataset_format)
    data_options = i2i.DataOptions(
        split="train", size=cfg.image_size, load_size=cfg.image_size, flip=False,
        channels={"image": cfg.channels}, load_image=ctx.load_image,
    )  # fmt: skip
    report = fmt.validate(Path(data_root), data_options)
    if report.classes is not None and len(report.classes) != cfg.num_classes:
        raise i2i.ConfigError(
            f"{data_root} has {len(report.classes)} classes, the model {cfg.num_classes}; "
            "evaluate on the data it was trained on"
        )
    dataset = fmt.build(Path(data_root), data_options)
    items = [dataset[(i, i)] for i in range(len(dataset))]
    real = torch.stack([it["image"] for it in items])
    labels = torch.stack([torch.as_tensor(it["class"]) for it in items]).long()
    paths = [Path(it["path"]) for it in items]
    classifier, real_acc = load_or_train_classifier(
        out_dir / "classifier.safetensors", real, labels, cfg.num_classes,
        dataset_fingerprint(paths), epochs=classifier_epochs, seed=seed, rotate=True,
    )  # fmt: skip
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(cfg.num_classes).repeat_interleave(samples_per_class)
    z = torch.randn(len(y), cfg.generator.z_dim, generator=g)
    sampler = model.inference_module(None)
    with torch.no_grad():
        fake = torch.cat([
            sampler(z[i : i + 256].to(device), y[i : i + 256].to(device)).float().cpu()
            for i in range(0, len(y), 256)
        ])  # fmt: skip
    overall, per_class = class_accuracy(classifier, fake, y, cfg.num_classes)
    extra = _network_metrics(options, device, fake, real, y, classifier, out_dir, report.classes)
    real_overall, _ = class_accuracy(classifier, real, labels, cfg.num_classes)
    show = torch.cat([fake[y == c][:2] for c in range(cfg.num_classes)])
    idx, dist = nearest_neighbours(show, real, k=3)
    grid = neighbour_grid(show, real, idx)
    write_image(out_dir / "nearest.png", ((grid.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy())
    names = report.classes or [str(c) for c in range(cfg.num_classes)]
    write_csv(
        [{"class": n, "sample_accuracy": a} for n, a in zip(names, per_class, strict=True)],
        out_dir / "per_class.csv", key="class",
    )  # fmt: skip
    return {
        "sample_class_accuracy": float(overall),
        "chance": 1.0 / cfg.num_classes,
        "classifier_heldout_accuracy": float(real_acc),
        "classifier_train_accuracy": float(real_overall),
        "samples_per_class": samples_per_class,
        "per_class": dict(zip(names, map(float, per_class), strict=True)),
        "nearest": "nearest.png",
        "nearest_mean_l2": float(dist[:, 0].mean()),
        **extra,
    }


def _network_metrics(
    options: object,
    device: torch.device,
    fake: torch.Tensor,
    real: torch.Tensor,
    y: torch.Tensor,
    classifier: nn.Module,
    out_dir: Path,
    classes: list[str] | None,
) -> dict[str, object]:
    """IS of the samples, FID / KID against the real images (when the Inception weights are
    there), the score and best / worst examples by the classifier's confidence."""
    from i2i.metrics.evaluation import Evaluator, examples, save_image, score
    from i2i.metrics.fid import inception_score

    ev = Evaluator(options, device)  # type: ignore[arg-type]
    out: dict[str, object] = {}
    if ev.wants("is") or ev.wants("fid") or ev.wants("kid"):
        cap = ev.options.max_images  # > 0: evenly spread subsets (a quick look)
        pick = (lambda t: t[torch.linspace(0, len(t) - 1, min(cap, len(t))).long()]) if cap else (
            lambda t: t
        )  # fmt: skip
        fake_f = ev.features(list(pick(fake)), logits=True)
        if ev.wants("is"):
            splits = max(1, min(10, fake_f.n // 2))  # at least two images per split
            out["is"], out["is_std"] = inception_score(fake_f.logits, splits=splits)
            out["is_splits"] = splits
        if ev.wants("fid") or ev.wants("kid"):
            out.update(ev.distribution(fake_f, ev.features(list(pick(real)))))
    with torch.no_grad():
        probs = classifier(fake.float()).softmax(1)
    conf = probs[torch.arange(len(y)), y].tolist()
    names = [f"{(classes or [])[c] if classes else c}_{i:04d}" for i, c in enumerate(y.tolist())]
    rows = [{"image": n, "class_confidence": v} for n, v in zip(names, conf, strict=True)]
    from i2i.metrics.report import write_csv

    write_csv(rows, out_dir / "per_image.csv")
    ex = examples(rows, "class_confidence", False, [[] for _ in rows])
    for entry in ex["best"] + ex["worst"]:
        i = names.index(entry["image"])
        save_image(fake[i], out_dir / "samples" / f"{entry['image']}.png")
        entry["files"] = [f"samples/{entry['image']}.png"]
    out["examples"] = ex
    out["score"] = (
        score("fid", out["fid"], True)
        if "fid" in out
        else score("sample_class_accuracy", float((probs.argmax(1) == y).float().mean()), False)
    )
    out.update(ev.summary())
    return out


def _adapt(config: CGANConfig, report: i2i.DatasetReport) -> CGANConfig:
    classes = report.classes or []
    if not classes:
        return config
    if config.num_classes == 0:
        return dataclasses.replace(config, num_classes=len(classes))
    if config.num_classes != len(classes):
        raise i2i.ConfigError(
            f"num_classes is {config.num_classes} but the dataset has {len(classes)} class "
            f"folders ({', '.join(classes[:6])}...); set num_classes=0 to take it from the data"
        )
    return config


SPEC = ModelSpec(
    name="cgan",
    summary="Class-conditional generation: CBN generator, projection discriminator, hinge loss",
    config_cls=CGANConfig,
    build=CGAN,
    dataset_format="classes",
    batch_keys=("image", "class"),
    data_channels=lambda c: {"image": c.channels},
    directions=("sample",),
    default_train={"steps": 50_000, "size": 32, "load_size": 32, "batch_size": 64, "flip": False},
    tiny=(
        "generator.ngf=8",
        "generator.z_dim=16",
        "discriminator.ndf=8",
        "image_size=32",
    ),
    adapt_config=_adapt,
    evaluate=evaluate,
    demo=i2i.DemoRecipe(
        steps=1200,
        overrides=(
            "image_size=16",
            "generator.ngf=32",
            "discriminator.ndf=32",
            "generator.z_dim=32",
            "ema_decay=0.99",
            "discriminator.aux_classifier=true",
            "train.log_every=100",
            "train.sample_every=200",
            "train.checkpoint_every=600",
        ),
        train={"size": 16, "load_size": 16, "batch_size": 64},
        evaluate=True,
        summary="a 16 px class-conditional GAN (ngf 32, auxiliary classifier) on four shape "
        "classes; class accuracy of its samples, about 2 minutes on 2 CPU cores",
    ),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(SPEC.name, SPEC)
