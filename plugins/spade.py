"""SPADE (GauGAN): semantic image synthesis from label maps (Park et al., CVPR 2019).

Defaults follow the paper's recipe (NVlabs/SPADE): the SPADE generator (ngf 64, "normal" = 5
upsamplings from the label map downsampled 32x, SPADE hidden 128, kernel 3, parameter-free
batch norm — the paper's synchronized batch norm — spectral norm in the residual blocks), a
multi-scale PatchGAN (num_D 2, n_layers 4, ndf 64, instance norm + spectral norm) returning its
intermediate features, hinge loss, feature matching x10, VGG19 perceptual loss x10 (weights from
a local file: ``--set vgg_weights=PATH``; off with a log line otherwise), optional VAE style
encoder with KL x0.05 (``--set use_vae=true``), TTUR (Adam G 1e-4, D 4e-4, betas (0, 0.9)),
batch size 1, constant LR for half the run then linear decay.

Inputs: integer label maps (``N x 1 x H x W`` int64 class ids), optionally an instance-id map
whose boundaries become an extra channel (``use_instances``) and, for the ``style`` direction of
a VAE model, a style image. Inside the model the ids become one-hot maps by comparison (never a
scatter), and a ``dontcare`` id maps to its own extra channel. Directions: ``AtoB`` (label map ->
image; with the VAE the style code is the prior's mean, z = 0) and, with the VAE, ``style``
(label map + style image -> image in that style, z = the encoder's mean).

Inference uses batch norm's running statistics (the reference code's test mode).
The class count comes from the dataset (``label_nc = 0``) unless set. See docs/spade.md.

This module uses only i2i's public API, exactly like a third-party plugin.
"""

from __future__ import annotations

import colorsys
import copy
import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

import i2i
from i2i import InferenceInfo, ModelSpec, OptimConfig, ScheduleConfig, opt
from i2i.nn import (
    MultiscaleDiscriminator,
    SPADEGenerator,
    StyleEncoder,
    feature_matching_loss,
    init_weights,
    instance_edges,
    kl_divergence,
    one_hot_labels,
    vgg_loss_or_none,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SPADEGeneratorConfig:
    """The SPADE generator."""

    ngf: int = opt(64, "base width (the first SPADE blocks have 16 x ngf channels)")
    num_upsampling: int = opt(
        5, "upsamplings from the label map downsampled 2**N times (5 normal, 6 more, 7 most)"
    )
    norm: str = opt("batch", "SPADE's parameter-free norm: batch (the paper's sync BN) | instance")
    spade_hidden: int = opt(128, "hidden channels of each SPADE layer")
    spade_kernel: int = opt(3, "kernel size of SPADE's convolutions")
    spectral_norm: bool = opt(True, "spectral norm on the residual blocks' convolutions")
    init: str = opt("xavier", "weight init: normal | xavier | kaiming | orthogonal")
    init_gain: float = opt(0.02, "scale of the weight init")


@dataclasses.dataclass(frozen=True)
class SPADEDiscriminatorConfig:
    """The multi-scale PatchGAN discriminator."""

    ndf: int = opt(64, "channels of the first layer of each scale")
    n_layers: int = opt(4, "layers of each scale")
    num_D: int = opt(2, "scales (each on a 2x smaller input)")  # noqa: N815
    norm: str = opt("instance", "norm of the middle layers: instance | batch | none")
    spectral_norm: bool = opt(True, "spectral norm on the middle layers")
    init: str = opt("xavier", "weight init")
    init_gain: float = opt(0.02, "scale of the weight init")


@dataclasses.dataclass(frozen=True)
class SPADEEncoderConfig:
    """The VAE style encoder (``use_vae = true``)."""

    z_dim: int = opt(256, "style code size")
    ndf: int = opt(64, "base width of the encoder")
    size: int = opt(256, "images are resized to size x size before encoding (power of two)")
    base: int = opt(8, "side of the map the code starts from (train size / 2**num_upsampling)")
    base_w: int = opt(
        0, "width of that map when it is not square (0 = base; e.g. 2 x base for 2:1 images)"
    )


@dataclasses.dataclass(frozen=True)
class SPADELossConfig:
    """Loss weights of SPADE."""

    gan_mode: str = opt("hinge", "GAN loss: hinge | lsgan | vanilla")
    lambda_feat: float = opt(10.0, "weight of the discriminator feature-matching loss")
    lambda_vgg: float = opt(10.0, "weight of the VGG19 perceptual loss (needs vgg_weights)")
    lambda_kld: float = opt(0.05, "weight of the KL loss of the style encoder (use_vae)")
    no_ganFeat: bool = opt(False, "turn feature matching off")  # noqa: N815 - the paper's flag
    no_vgg: bool = opt(False, "turn the VGG loss off even when vgg_weights is set")


@dataclasses.dataclass(frozen=True)
class SPADEConfig:
    """SPADE options (``--set KEY=VALUE``)."""

    label_nc: int = opt(0, "number of classes (0 = from the dataset: palette or largest id + 1)")
    dontcare: int = opt(-1, "label id to ignore, e.g. 255 (gets its own input channel; -1 = none)")
    use_instances: bool = opt(False, "read instances/ maps and add their boundaries as a channel")
    output_nc: int = opt(3, "image channels")
    use_vae: bool = opt(False, "train a style encoder (VAE) for multimodal / style-guided output")
    vgg_weights: str = opt(
        "", "local torchvision VGG19 state-dict file for the perceptual loss (empty = loss off)"
    )
    generator: SPADEGeneratorConfig = opt(SPADEGeneratorConfig(), "generator")
    discriminator: SPADEDiscriminatorConfig = opt(SPADEDiscriminatorConfig(), "discriminator")
    encoder: SPADEEncoderConfig = opt(SPADEEncoderConfig(), "style encoder (use_vae)")
    loss: SPADELossConfig = opt(SPADELossConfig(), "loss weights")
    optim: OptimConfig = opt(
        OptimConfig(lr=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9),
        "Adam settings (TTUR: lr for G and the encoder, lr_d for D)",
    )
    schedule: ScheduleConfig = opt(ScheduleConfig(), "learning-rate schedule")


def semantic_channels(config: SPADEConfig) -> int:
    """Input channels of the networks: classes, + dontcare, + instance edge."""
    return config.label_nc + int(config.dontcare >= 0) + int(config.use_instances)


class LabelEncoder(nn.Module):
    """Integer label (and instance) maps -> the one-hot (+ edge) maps the networks take.

    The dontcare id maps to channel ``label_nc``; ids outside ``[0, label_nc)`` are refused
    (eagerly; in an exported graph they would give all-zero vectors).
    """

    def __init__(
        self, label_nc: int, dontcare: int, use_instances: bool, check_ids: bool = True
    ) -> None:
        super().__init__()
        self.label_nc, self.dontcare, self.use_instances = label_nc, dontcare, use_instances
        #: Check ids on every call (inference); training data is validated up front instead.
        self.check_ids = check_ids

    def check(self, label: torch.Tensor) -> None:
        """Raise :class:`i2i.InputError` for a malformed label map (skipped while exporting)."""
        if not self.check_ids or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return
        if label.ndim != 4 or label.shape[1] != 1 or label.is_floating_point():
            raise i2i.InputError(
                f"SPADE expects integer label maps of shape (N, 1, H, W), got "
                f"{tuple(label.shape)} {label.dtype}; pass class ids as int64"
            )
        ok = (label >= 0) & (label < self.label_nc)
        if self.dontcare >= 0:
            ok |= label == self.dontcare
        if not bool(ok.all()):
            bad = torch.unique(label[~ok])[:8].tolist()
            dc = f" or {self.dontcare} (dontcare)" if self.dontcare >= 0 else ""
            raise i2i.InputError(
                f"label map holds ids {bad} outside [0, {self.label_nc}){dc}; this model was "
                f"trained on {self.label_nc} classes — fix the label map"
            )

    def forward(self, label: torch.Tensor, instance: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, C, H, W)`` float semantic maps."""
        self.check(label)
        n = self.label_nc
        if self.dontcare >= 0:
            label = torch.where(label == self.dontcare, torch.full_like(label, n), label)
            n += 1
        seg = one_hot_labels(label, n)
        if self.use_instances:
            if instance is None:
                raise i2i.InputError(
                    "this SPADE model was trained with instance maps (use_instances); pass the "
                    "instance map too"
                )
            seg = torch.cat([seg, instance_edges(instance)], 1)
        return seg


class SPADEInference(nn.Module):
    """Inference module: ``forward(label[, instance][, style]) -> image`` in [-1, 1].

    ``mode="prior"``: a VAE generator gets z = 0 (the prior's mean); ``mode="style"``: z = the
    encoder's mean for the style image. Without a VAE the generator takes only the label map.

    Attributes:
        dontcare_label: The dontcare id (-1 = none); engines accept it in label inputs.
        stride: Input height and width must be multiples of this.
    """

    def __init__(
        self, labels: LabelEncoder, generator: nn.Module, encoder: nn.Module | None, mode: str
    ) -> None:
        super().__init__()
        self.labels, self.generator, self.encoder, self.mode = labels, generator, encoder, mode
        self.dontcare_label = labels.dontcare
        self.stride = int(generator.stride)

    def forward(self, label: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        """Synthesize images for integer label maps (see the class docstring for inputs)."""
        rest_list = list(rest)
        instance = rest_list.pop(0) if self.labels.use_instances else None
        seg = self.labels(label, instance)
        z = None
        if self.generator.z_dim > 0:
            if self.mode == "style":
                if not rest_list:
                    raise i2i.InputError("the 'style' direction needs a style image input")
                z, _ = self.encoder(rest_list[0].to(seg.dtype))
            else:
                z = torch.zeros(label.shape[0], self.generator.z_dim, device=label.device)
        return self.generator(seg, z)


def label_colors(n: int) -> torch.Tensor:
    """``n`` distinct display colours (``n x 3`` in [0, 1]) for label visualizations."""
    cols = [colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95) for i in range(max(1, n))]
    return torch.tensor(cols, dtype=torch.float32)


class SPADE(i2i.GANModel):
    """SPADE generator + multi-scale discriminator (+ style encoder) with hinge, feature-matching,
    VGG and KL losses."""

    generator_names = ("G", "E")  # optimizer group "G": the generator and the style encoder

    def __init__(self, config: SPADEConfig, ctx: i2i.Context) -> None:
        super().__init__()
        if config.label_nc < 1:
            raise i2i.ConfigError(
                "label_nc must be >= 1 (train on a labelmap dataset to take it from the data, "
                "or set label_nc)"
            )
        if config.dontcare >= 0 and config.dontcare < config.label_nc:
            raise i2i.ConfigError(
                f"dontcare id {config.dontcare} is one of the {config.label_nc} classes "
                f"[0, {config.label_nc}); use an id >= label_nc (e.g. 255) or -1 for none"
            )
        self.config = config
        g, d, e = config.generator, config.discriminator, config.encoder
        sem = semantic_channels(config)
        # training batches come from a validated dataset: no per-step id check (a host sync)
        self.labels = LabelEncoder(
            config.label_nc, config.dontcare, config.use_instances, check_ids=False
        )
        self.G = SPADEGenerator(
            sem, config.output_nc, ngf=g.ngf, num_upsampling=g.num_upsampling,
            z_dim=e.z_dim if config.use_vae else 0, base_size=(e.base, e.base_w or e.base),
            spectral=g.spectral_norm, hidden=g.spade_hidden, kernel=g.spade_kernel, norm=g.norm,
        )  # fmt: skip
        init_weights(self.G, g.init, g.init_gain)
        self.D = MultiscaleDiscriminator(
            sem + config.output_nc, ndf=d.ndf, n_layers=d.n_layers, num_D=d.num_D, norm=d.norm,
            spectral=d.spectral_norm,
        )  # fmt: skip
        init_weights(self.D, d.init, d.init_gain)
        self.E: StyleEncoder | None = None
        if config.use_vae:
            self.E = StyleEncoder(config.output_nc, e.z_dim, e.ndf, e.size)
            init_weights(self.E, g.init, g.init_gain)
        self.gan_loss = ctx.losses.get(config.loss.gan_mode)()
        if getattr(self.gan_loss, "uses_gradient_penalty", False):
            raise i2i.ConfigError("SPADE supports gan_mode hinge, lsgan or vanilla, not wgangp")
        if config.loss.no_vgg or config.loss.lambda_vgg <= 0:
            log.info("VGG perceptual loss is off (loss.no_vgg or lambda_vgg = 0)")
            self.vgg = None
        else:
            self.vgg = vgg_loss_or_none(config.vgg_weights or None, log)

    # -- training ---------------------------------------------------------------------------
    def step_groups(self, step: int) -> tuple[str, ...]:
        return ("G", "D")  # the reference code: generator step, then discriminator step

    def forward_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        seg = self.labels(batch["label"], batch.get("instance"))
        cache: dict[str, torch.Tensor] = {"seg": seg}
        z = None
        if self.E is not None:
            mu, logvar = self.E(batch["image"])
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            cache.update(mu=mu, logvar=logvar)
        cache["fake"] = self.G(seg, z)
        return cache

    def losses(
        self, group: str, batch: Mapping[str, torch.Tensor], cache: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        real, seg, fake = batch["image"], cache["seg"], cache["fake"]
        seg = seg.to(fake.dtype)
        lc = self.config.loss
        if group == "G":
            pred_fake = self.D(torch.cat([seg, fake], 1))
            out = {"gan": self.gan_loss(pred_fake, True, for_discriminator=False)}
            if not lc.no_ganFeat:
                with torch.no_grad():
                    pred_real = self.D(torch.cat([seg, real.to(fake.dtype)], 1))
                out["feat"] = feature_matching_loss(pred_fake, pred_real, lc.lambda_feat)
            if self.vgg is not None:
                out["vgg"] = self.vgg(fake, real) * lc.lambda_vgg
            if "mu" in cache:
                out["kld"] = kl_divergence(cache["mu"], cache["logvar"]) * lc.lambda_kld
            return out
        if group == "D":
            n = real.shape[0]
            both = torch.cat(
                [torch.cat([seg, fake.detach()], 1), torch.cat([seg, real.to(fake.dtype)], 1)]
            )
            pred = self.D(both)  # fakes and reals in one pass, as the reference code
            pred_fake = [[f[:n] for f in scale] for scale in pred]
            pred_real = [[f[n:] for f in scale] for scale in pred]
            return {
                "fake": self.gan_loss(pred_fake, False, for_discriminator=True),
                "real": self.gan_loss(pred_real, True, for_discriminator=True),
            }
        raise i2i.ConfigError(f"SPADE has optimizer groups G and D, not '{group}'")

    # -- inference ----------------------------------------------------------------------------
    def inference_directions(self) -> tuple[str, ...]:
        return ("AtoB", "style") if self.E is not None else ("AtoB",)

    def _direction(self, direction: str | None) -> str:
        d = direction or "AtoB"
        if d not in self.inference_directions():
            raise i2i.ConfigError(
                f"this SPADE model translates in direction(s) "
                f"{', '.join(self.inference_directions())}, not {d!r}"
                + ("" if self.E is not None else " (train with use_vae=true for 'style')")
            )
        return d

    def inference_module(self, direction: str | None = None) -> nn.Module:
        """Label map (+ instance map, + style image) -> image; batch norm uses running
        statistics."""
        d = self._direction(direction)
        encoder = copy.deepcopy(self.E) if (d == "style" and self.E is not None) else None
        labels = LabelEncoder(
            self.config.label_nc, self.config.dontcare, self.config.use_instances, check_ids=True
        )
        return SPADEInference(
            labels, copy.deepcopy(self.G), encoder, "style" if d == "style" else "prior"
        ).eval()

    def inference_info(self, direction: str | None = None) -> InferenceInfo:
        d = self._direction(direction)
        inputs = ("label",) + (("instance",) if self.config.use_instances else ())
        if d == "style":
            inputs += ("style",)
        return InferenceInfo(
            inputs=inputs,
            in_channels=self.config.label_nc,
            out_channels=self.config.output_nc,
            stride=int(self.G.stride),
            direction=d,
            num_classes=self.config.label_nc,
        )

    def visuals(
        self, batch: Mapping[str, torch.Tensor], cache: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        label = batch["label"].long()
        n = self.config.label_nc + 1
        colors = label_colors(n).to(label.device)
        idx = torch.where((label >= 0) & (label < self.config.label_nc), label, n - 1)
        shown = colors[idx[:, 0]].permute(0, 3, 1, 2) * 2 - 1
        return {"label": shown, "fake": cache["fake"], "real": batch["image"]}


def _channels(c: SPADEConfig) -> dict[str, int]:
    return {"image": c.output_nc, "label": 1}


def _params(c: SPADEConfig) -> dict[str, int]:
    """The ``labelmap`` format's settings (``DataOptions.params``)."""
    return {"label_nc": c.label_nc, "dontcare": c.dontcare, "instance": int(c.use_instances)}


def _adapt(config: SPADEConfig, report: i2i.DatasetReport) -> SPADEConfig:
    classes = report.classes or []
    if not classes or config.label_nc > 0:
        return config
    return dataclasses.replace(config, label_nc=len(classes))


def evaluate(
    ctx: i2i.Context, loaded: object, data_root: Path, out_dir: Path, *, options: object = None
) -> dict[str, object]:
    """The test split's label maps (+ instance maps) -> images: FID / KID against the real test
    images, LPIPS, PSNR, SSIM of each output against its photo, outputs, per-image CSV, best /
    worst examples and the nearest training images (see :mod:`i2i.metrics.evaluation`)."""
    from i2i.metrics.evaluation import TranslationJob, evaluate_translation_family

    jobs = [TranslationJob(None, ("label", "instance"), "image", paired=True, name="label2image")]
    return evaluate_translation_family(ctx, loaded, data_root, out_dir, jobs, options)  # type: ignore[arg-type]  # noqa: E501


SPEC = ModelSpec(
    name="spade",
    summary="Label map -> image (GauGAN): SPADE generator, multi-scale D, hinge + feature matching",
    config_cls=SPADEConfig,
    build=SPADE,
    dataset_format="labelmap",
    batch_keys=("image", "label"),
    data_channels=_channels,
    data_params=_params,
    directions=("AtoB", "style"),
    default_train={"epochs": 50, "size": 256, "load_size": 286, "batch_size": 1},
    tiny=(
        "generator.ngf=4",
        "generator.num_upsampling=3",
        "generator.spade_hidden=8",
        "discriminator.ndf=8",
        "discriminator.n_layers=2",
        "encoder.z_dim=8",
        "encoder.ndf=4",
        "encoder.size=32",
        "encoder.base=4",
    ),
    adapt_config=_adapt,
    evaluate=evaluate,
    demo=i2i.DemoRecipe(
        steps=500,
        overrides=(
            "generator.ngf=16",
            "train.log_every=50",
            "train.sample_every=100",
            "train.checkpoint_every=250",
        ),
        train={"size": 64, "load_size": 72, "batch_size": 4},
        translate=(("AtoB", "test/labels"),),
        summary="a small SPADE generator (ngf 16) painting label maps of outdoor scenes at 64 px, "
        "about 2-3 minutes on 2 CPU cores",
    ),
)


@i2i.hookimpl
def i2i_register_models(registrar: i2i.Registrar) -> None:
    registrar.add(SPEC.name, SPEC)
