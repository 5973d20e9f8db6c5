"""Super-resolution primitives: SRResNet and RRDB generators, VGG-style and U-Net discriminators,
pixel losses (L1 / L2 / Charbonnier) and the relativistic average GAN loss.

- :class:`SRResNet`: residual blocks without batch norm (the "MSRResNet" of BasicSR, after
  SRGAN, Ledig et al. 2017), pixel-shuffle upsampling and a global bilinear skip;
- :class:`RRDBNet`: ESRGAN's residual-in-residual dense blocks (Wang et al. 2018) with
  nearest-neighbour + conv upsampling (or pixel shuffle);
- :class:`VGGStyleDiscriminator`: ESRGAN's VGG-style classifier for fixed-size patches;
- :class:`UNetDiscriminator`: Real-ESRGAN's U-Net discriminator with spectral norm, a per-pixel
  realness map for any size divisible by 8;
- :func:`charbonnier_loss` and :data:`PIXEL_LOSSES`;
- :class:`RelativisticAverageGANLoss`: RaGAN around any :class:`~i2i.nn.losses.GANLoss`.

Generators map ``N x C x h x w`` to ``N x C x (h * scale) x (w * scale)`` for any ``h, w`` (no
stride constraint) and work in whatever value range they are trained in (i2i uses [-1, 1]); the
output is linear (no tanh), as in the references.

Example:
    >>> import torch
    >>> g = RRDBNet(3, 3, scale=4, nf=8, n_blocks=1, growth=4)
    >>> g(torch.zeros(1, 3, 12, 10)).shape
    torch.Size([1, 3, 48, 40])
    >>> d = UNetDiscriminator(3, ndf=8)
    >>> d(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import ConfigError, InputError
from i2i.nn._checks import check_choice, check_input, check_int, checking
from i2i.nn.losses import GANLoss
from i2i.nn.norm import spectral_norm as _spectral_norm

__all__ = [
    "PIXEL_LOSSES",
    "SR_SCALES",
    "SR_UPSAMPLERS",
    "RRDBNet",
    "RelativisticAverageGANLoss",
    "ResidualDenseBlock",
    "RRDB",
    "SRResNet",
    "UNetDiscriminator",
    "Upsampler",
    "VGGStyleDiscriminator",
    "ValueRange",
    "charbonnier_loss",
    "pixel_loss",
    "pixel_unshuffle",
]

#: Upscaling factors the generators support (1 = restoration at the same size, no upsampling).
SR_SCALES: tuple[int, ...] = (1, 2, 3, 4, 8)
#: Upsampling layers: pixel shuffle (sub-pixel conv) or nearest-neighbour resize + conv.
SR_UPSAMPLERS: tuple[str, ...] = ("pixelshuffle", "nearest")


def _check_scale(scale: int) -> int:
    if scale not in SR_SCALES:
        raise ConfigError(f"scale must be one of {', '.join(map(str, SR_SCALES))}, got {scale}")
    return scale


def _factors(scale: int) -> list[int]:
    """x2 steps for powers of two, a single x3 step for 3 (none for 1)."""
    return [3] if scale == 3 else [2] * (scale.bit_length() - 1)


class ValueRange(nn.Module):
    """Maps i2i's [-1, 1] values into the range a network was trained in, and back.

    ``forward(x)`` gives ``lo + (x + 1) * (hi - lo) / 2`` (into the network's range) and
    :meth:`back` the inverse. Applied *around* a network — not folded into its first conv,
    which would be inexact where that conv zero-pads its input (a padded zero means the value
    0 in the network's own range). An identity for ``(-1, 1)``.

    Args:
        value_range: ``(lo, hi)`` the network works in, e.g. ``(0, 1)`` for BasicSR / ESRGAN
            models.

    Raises:
        ConfigError: ``lo >= hi``.
    """

    def __init__(self, value_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        super().__init__()
        lo, hi = (float(v) for v in value_range)
        if not lo < hi:
            raise ConfigError(f"value_range must be (lo, hi) with lo < hi, got {value_range}")
        self.value_range = (lo, hi)
        self.identity = (lo, hi) == (-1.0, 1.0)
        self.half_width = (hi - lo) / 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in [-1, 1] -> the network's range."""
        if self.identity:
            return x
        return (x + 1.0) * self.half_width + self.value_range[0]

    def back(self, y: torch.Tensor) -> torch.Tensor:
        """The network's range -> [-1, 1]."""
        if self.identity:
            return y
        return (y - self.value_range[0]) / self.half_width - 1.0

    def extra_repr(self) -> str:
        return f"value_range={self.value_range}"


def _kaiming_scaled(module: nn.Module, scale: float) -> None:
    """Kaiming-normal init scaled down (BasicSR's ``default_init_weights``), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
            m.weight.data.mul_(scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Upsampler(nn.Sequential):
    """Upsample features by ``scale`` (1, 2, 3, 4 or 8) in x2 (or x3) steps (none for 1).

    ``"pixelshuffle"``: conv to ``f**2 * nf`` channels then :class:`~torch.nn.PixelShuffle`
    (sub-pixel convolution, SRGAN); ``"nearest"``: nearest-neighbour resize then a 3x3 conv
    (ESRGAN). Each step ends with LeakyReLU.

    Args:
        nf: Feature channels (kept).
        scale: Overall factor.
        mode: ``"pixelshuffle"`` or ``"nearest"``.
        slope: LeakyReLU slope (0.1 in SRResNet, 0.2 in ESRGAN).
    """

    def __init__(self, nf: int, scale: int, mode: str = "pixelshuffle", slope: float = 0.1):
        check_choice("upsampler", mode, SR_UPSAMPLERS)
        layers: list[nn.Module] = []
        for f in _factors(_check_scale(scale)):
            if mode == "pixelshuffle":
                layers += [nn.Conv2d(nf, nf * f * f, 3, padding=1), nn.PixelShuffle(f)]
            else:
                layers += [nn.Upsample(scale_factor=f, mode="nearest")]
                layers += [nn.Conv2d(nf, nf, 3, padding=1)]
            layers.append(nn.LeakyReLU(slope, inplace=True))
        super().__init__(*layers)


class _ResidualBlockNoBN(nn.Module):
    def __init__(self, nf: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv2 = nn.Conv2d(nf, nf, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale


class SRResNet(nn.Module):
    """SRResNet without batch norm (BasicSR's MSRResNet): ``n_blocks`` residual blocks,
    pixel-shuffle (or nearest) upsampling, two output convs, plus the bilinear upscaled input.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (the global skip needs ``out_channels == in_channels``;
            it is left out otherwise).
        scale: Upscaling factor (2, 3, 4 or 8).
        nf: Feature channels (64).
        n_blocks: Residual blocks (16).
        upsampler: ``"pixelshuffle"`` (default) or ``"nearest"``.
        value_range: Value range the layers work in; inputs and outputs stay in [-1, 1] and are
            mapped around the network (:class:`ValueRange`); ``(0, 1)`` for BasicSR's models.

    Attributes:
        scale: The upscaling factor.

    Shape:
        - Input :math:`(N, C_{in}, h, w)`; output :math:`(N, C_{out}, h s, w s)`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        nf: int = 64,
        n_blocks: int = 16,
        upsampler: str = "pixelshuffle",
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("out_channels", out_channels, 1)
        check_int("nf", nf, 1)
        check_int("n_blocks", n_blocks, 0)
        self.in_channels, self.scale = in_channels, _check_scale(scale)
        self.conv_first = nn.Conv2d(in_channels, nf, 3, padding=1)
        self.body = nn.Sequential(*[_ResidualBlockNoBN(nf) for _ in range(n_blocks)])
        self.upsample = Upsampler(nf, scale, upsampler, slope=0.1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, out_channels, 3, padding=1)
        self.global_skip = in_channels == out_channels
        self.range = ValueRange(value_range)
        self.stride = 1
        _kaiming_scaled(self, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``x`` by :attr:`scale`."""
        check_input(x, self.in_channels, what="SRResNet")
        x = self.range(x)
        feat = F.leaky_relu(self.conv_first(x), 0.1)
        out = self.upsample(self.body(feat))
        out = self.conv_last(F.leaky_relu(self.conv_hr(out), 0.1))
        if self.global_skip:
            base = x
            if self.scale != 1:
                base = F.interpolate(
                    x, scale_factor=self.scale, mode="bilinear", align_corners=False
                )
            out = out + base
        return self.range.back(out)


class ResidualDenseBlock(nn.Module):
    """ESRGAN's dense block: five 3x3 convs, each seeing all earlier outputs (growth ``gc``),
    LeakyReLU(0.2), output scaled by 0.2 and added to the input."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(nf + i * gc, gc if i < 4 else nf, 3, padding=1) for i in range(5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(F.leaky_relu(out, 0.2, inplace=True))
        return x + out * 0.2


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock`, scaled by 0.2."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc)
        self.rdb2 = ResidualDenseBlock(nf, gc)
        self.rdb3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * 0.2


class RRDBNet(nn.Module):
    """The ESRGAN generator: conv, ``n_blocks`` RRDBs and a conv with a long skip, upsampling
    (nearest + conv by default, as ESRGAN; or pixel shuffle), two output convs.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        scale: Upscaling factor (2, 3, 4 or 8).
        nf: Feature channels (64).
        n_blocks: RRDB blocks (23).
        growth: Growth channels of the dense blocks (32).
        upsampler: ``"nearest"`` (default) or ``"pixelshuffle"``.
        pixel_unshuffle: Factor ``u`` the input is pixel-unshuffled by first (``u * u * C_in``
            channels at ``1 / u`` of the size; 1 = off); the trunk then upscales by
            ``scale * u``. Real-ESRGAN's x2 models use 2 and its x1 models 4 (on a x4 trunk).
        value_range: Value range the layers work in; inputs and outputs stay in [-1, 1] and are
            mapped around the network (:class:`ValueRange`); ``(0, 1)`` for BasicSR / ESRGAN /
            Real-ESRGAN models.

    Attributes:
        scale: The upscaling factor.
        stride: ``pixel_unshuffle``: input height and width must be multiples of it.

    Shape:
        - Input :math:`(N, C_{in}, h, w)`; output :math:`(N, C_{out}, h s, w s)`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        nf: int = 64,
        n_blocks: int = 23,
        growth: int = 32,
        upsampler: str = "nearest",
        pixel_unshuffle: int = 1,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("out_channels", out_channels, 1)
        check_int("nf", nf, 1)
        check_int("n_blocks", n_blocks, 0)
        check_int("growth", growth, 1)
        check_int("pixel_unshuffle", pixel_unshuffle, 1)
        self.in_channels, self.scale = in_channels, _check_scale(scale)
        trunk = scale * pixel_unshuffle
        if trunk not in SR_SCALES:
            raise ConfigError(
                f"scale {scale} with pixel_unshuffle {pixel_unshuffle} needs a x{trunk} trunk; "
                f"the trunk upscales by one of {', '.join(map(str, SR_SCALES))}"
            )
        self.stride = pixel_unshuffle
        self.range = ValueRange(value_range)
        self.conv_first = nn.Conv2d(in_channels * pixel_unshuffle**2, nf, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(nf, growth) for _ in range(n_blocks)])
        self.conv_body = nn.Conv2d(nf, nf, 3, padding=1)
        self.upsample = Upsampler(nf, trunk, upsampler, slope=0.2)
        self.conv_hr = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv_last = nn.Conv2d(nf, out_channels, 3, padding=1)
        _kaiming_scaled(self, 0.1)
        _kaiming_scaled(self.conv_first, 1.0)
        _kaiming_scaled(self.conv_last, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``x`` by :attr:`scale`."""
        check_input(x, self.in_channels, self.stride, what="RRDBNet")
        x = self.range(x)
        if self.stride > 1:
            x = pixel_unshuffle(x, self.stride)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        out = self.upsample(feat)
        return self.range.back(self.conv_last(F.leaky_relu(self.conv_hr(out), 0.2)))


def pixel_unshuffle(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Space-to-depth: ``(N, C, H, W) -> (N, C f^2, H / f, W / f)``, channel ``c f^2 + i f + j``
    holding pixel ``(i, j)`` of each ``f x f`` cell (``torch.nn.functional.pixel_unshuffle``'s
    order), written with reshapes and a permute so that it exports to ONNX with dynamic sizes.
    """
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // factor, factor, w // factor, factor)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * factor * factor, h // factor, w // factor)


class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's VGG-style discriminator for ``input_size x input_size`` patches.

    Five stages (3x3 conv, then 4x4 stride-2 conv; the first has no norm), channels ``ndf`` to
    ``8 * ndf``, batch norm (or none with spectral norm), LeakyReLU(0.2); then
    ``linear(8 ndf * 4 * 4 -> 100) -> LeakyReLU -> linear(100 -> 1)`` after average-pooling the
    map to 4x4 (so sizes of ``32 * k`` pixels work; 128 is the reference).

    Args:
        in_channels: Image channels.
        ndf: Base width (64).
        input_size: Training patch size; inputs must have it (a multiple of 32).
        norm: ``"batch"`` (the reference) or ``"none"``.
        spectral: Spectral norm on every conv and linear layer.

    Shape:
        - Input :math:`(N, C, S, S)`; output :math:`(N, 1)` logits.
    """

    def __init__(
        self,
        in_channels: int = 3,
        ndf: int = 64,
        input_size: int = 128,
        norm: str = "batch",
        spectral: bool = False,
    ) -> None:
        super().__init__()
        check_int("ndf", ndf, 1)
        check_choice("norm", norm, ("batch", "none"))
        if input_size < 32 or input_size % 32:
            raise ConfigError(
                f"VGG-style discriminator input_size must be a multiple of 32 (e.g. 128), got "
                f"{input_size}; set the HR crop size to a multiple of 32"
            )
        self.input_size = input_size
        widths = [ndf, ndf * 2, ndf * 4, ndf * 8, ndf * 8]
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, w in enumerate(widths):
            for conv in (
                nn.Conv2d(c_in, w, 3, 1, 1, bias=i == 0 or norm == "none"),
                nn.Conv2d(w, w, 4, 2, 1, bias=norm == "none"),
            ):
                layers.append(conv)
                if norm == "batch" and not (i == 0 and conv.kernel_size == (3, 3)):
                    layers.append(nn.BatchNorm2d(w, affine=True))
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear1 = nn.Linear(widths[-1] * 16, 100)
        self.linear2 = nn.Linear(100, 1)
        _spectral_norm(self, spectral)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Realness logits, one per image."""
        if checking() and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise InputError(
                f"VGG-style discriminator takes {self.input_size}x{self.input_size} patches, "
                f"got {tuple(x.shape[-2:])}; use the U-Net discriminator for other sizes"
            )
        feat = self.pool(self.features(x)).flatten(1)
        return self.linear2(F.leaky_relu(self.linear1(feat), 0.2))


class UNetDiscriminator(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm: a per-pixel realness map.

    Three stride-2 4x4 convs down (``ndf`` to ``8 ndf``), three bilinear x2 + 3x3 conv stages up
    with skip connections, two 3x3 convs and a 1-channel 3x3 conv. LeakyReLU(0.2); spectral norm
    on every conv but the first and the last.

    Args:
        in_channels: Image channels.
        ndf: Base width (64).
        skip: Add the encoder features to the decoder (True).
        spectral: Spectral norm on the inner convs (True).

    Shape:
        - Input :math:`(N, C, H, W)` with H and W multiples of 8; output :math:`(N, 1, H, W)`.
    """

    def __init__(
        self, in_channels: int = 3, ndf: int = 64, skip: bool = True, spectral: bool = True
    ) -> None:
        super().__init__()
        check_int("ndf", ndf, 1)
        self.skip = skip

        def sn(conv: nn.Module) -> nn.Module:
            return _spectral_norm(conv, spectral)

        self.conv0 = nn.Conv2d(in_channels, ndf, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(ndf * 8, ndf * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(ndf * 4, ndf * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(ndf * 2, ndf, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(ndf, ndf, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(ndf, ndf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(ndf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel realness logits."""
        if checking() and (x.ndim != 4 or x.shape[-2] % 8 or x.shape[-1] % 8):
            raise InputError(
                f"U-Net discriminator needs N x C x H x W with H and W multiples of 8, got "
                f"{tuple(x.shape)}; use an HR crop size divisible by 8"
            )
        # in place: the conv outputs are not needed by their backward (saves allocations)
        act = lambda t: F.leaky_relu(t, 0.2, inplace=True)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x4 = act(self.conv4(up(x3)))
        x4 = x4 + x2 if self.skip else x4
        x5 = act(self.conv5(up(x4)))
        x5 = x5 + x1 if self.skip else x5
        x6 = act(self.conv6(up(x5)))
        x6 = x6 + x0 if self.skip else x6
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)


def charbonnier_loss(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Charbonnier (smooth L1) loss ``mean(sqrt((x - y)**2 + eps**2))``, a differentiable L1.

    Args:
        x: Prediction.
        y: Target, same shape.
        eps: Smoothing constant (1e-3, as LapSRN / EDVR).
    """
    d = x.float() - y.float()
    return torch.sqrt(d * d + eps * eps).mean()


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(x.float(), y.float())


def _l2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(x.float(), y.float())


#: Pixel losses by name: ``loss(prediction, target) -> scalar`` (computed in float32).
PIXEL_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": _l1,
    "l2": _l2,
    "charbonnier": charbonnier_loss,
}


def pixel_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The pixel loss called ``name`` (see :data:`PIXEL_LOSSES`).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    check_choice("pixel loss", name, tuple(PIXEL_LOSSES))
    return PIXEL_LOSSES[name]


class RelativisticAverageGANLoss(nn.Module):
    """Relativistic average GAN loss (Jolicoeur-Martineau 2018; ESRGAN) around a base loss.

    The discriminator judges whether real data is *more realistic than the average fake* and
    vice versa: with ``C`` the raw logits,
    ``L_D = (base(C(real) - mean C(fake), real) + base(C(fake) - mean C(real), fake)) / 2`` and
    the generator loss swaps the targets, so it also gets gradients from the real logits. With
    the vanilla (BCE) base this is ESRGAN's RaGAN; LSGAN and hinge bases give RaLSGAN / RaHinge.
    Means are over the whole batch and every position (per-pixel discriminators included).

    Args:
        base: A :class:`~i2i.nn.losses.GANLoss` (e.g. ``VanillaGANLoss()``).
    """

    def __init__(self, base: GANLoss) -> None:
        super().__init__()
        if getattr(base, "uses_gradient_penalty", False):
            raise ConfigError("the relativistic loss needs a vanilla, lsgan or hinge base loss")
        self.base = base

    def forward(
        self, pred_real: torch.Tensor, pred_fake: torch.Tensor, for_discriminator: bool = True
    ) -> torch.Tensor:
        """The discriminator loss (``for_discriminator``) or the generator loss.

        In the generator step pass ``pred_real`` detached (the discriminator is frozen).
        """
        if pred_real.shape[1:] != pred_fake.shape[1:]:
            raise InputError(
                f"real and fake predictions must have the same shape per item, got "
                f"{tuple(pred_real.shape)} and {tuple(pred_fake.shape)}"
            )
        real, fake = pred_real.float(), pred_fake.float()
        real_rel, fake_rel = real - fake.mean(), fake - real.mean()
        real_target = for_discriminator  # the generator wants the targets swapped
        return (
            self.base(real_rel, real_target, True) + self.base(fake_rel, not real_target, True)
        ) / 2
