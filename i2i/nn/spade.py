"""SPADE (GauGAN) primitives: spatially-adaptive normalization and its generator, the style
encoder, the multi-scale PatchGAN discriminator with intermediate features, and the feature-
matching and KL losses (Park et al., "Semantic Image Synthesis with Spatially-Adaptive
Normalization", CVPR 2019; discriminator and feature matching from pix2pixHD, Wang et al. 2018).

- :class:`SPADE`: a parameter-free norm (batch or instance) whose per-pixel gain and bias are
  predicted from the label map, resized to the features with nearest neighbour (ids are never
  interpolated);
- :class:`SPADEResBlock`: two SPADE-conv units plus a learned shortcut when channels change,
  spectral norm on the convolutions;
- :class:`SPADEGenerator`: starts from the label map downsampled by ``2 ** num_upsampling``
  (or from a style code ``z``) and upsamples through SPADE residual blocks;
- :class:`StyleEncoder`: the VAE encoder ``image -> (mu, logvar)`` for multimodal and
  style-guided synthesis; :func:`kl_divergence` is its loss;
- :class:`MultiscaleDiscriminator`: ``num_D`` PatchGANs on successively halved inputs, each
  returning the list of its intermediate feature maps (the last one is its prediction);
- :func:`feature_matching_loss`: L1 between the discriminator features of fakes and reals.

Label maps enter these modules as one-hot (or soft) float maps ``N x label_nc x H x W``;
:func:`one_hot_labels` and :func:`instance_edges` build them from integer id and instance maps
with ops that export to ONNX (comparisons, no scatter).

Example:
    >>> import torch
    >>> g = SPADEGenerator(label_nc=4, ngf=8, num_upsampling=3)
    >>> ids = torch.randint(0, 4, (2, 1, 32, 48))
    >>> g(one_hot_labels(ids, 4)).shape
    torch.Size([2, 3, 32, 48])
    >>> d = MultiscaleDiscriminator(4 + 3, ndf=8, n_layers=2, num_D=2)
    >>> feats = d(torch.randn(2, 7, 32, 32))
    >>> len(feats), len(feats[0])
    (2, 4)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import ConfigError, InputError
from i2i.nn._checks import check_choice, check_int, checking
from i2i.nn.norm import InstanceNorm
from i2i.nn.norm import spectral_norm as _spectral_norm

__all__ = [
    "SPADE",
    "SPADE_NORMS",
    "MultiscaleDiscriminator",
    "SPADEDiscriminator",
    "SPADEGenerator",
    "SPADEResBlock",
    "StyleEncoder",
    "feature_matching_loss",
    "instance_edges",
    "kl_divergence",
    "one_hot_labels",
]

#: Parameter-free normalizations SPADE can modulate.
SPADE_NORMS: tuple[str, ...] = ("batch", "instance")


class _ParamFreeBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d(affine=False)``; in eval mode written as one multiply-add with the running
    statistics, which exports to ONNX even where the channel count of the input is not known
    statically (after a dynamic-size resize) and runs a little faster."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.running_mean is None or self.running_var is None:
            return super().forward(x)
        scale = torch.rsqrt(self.running_var + self.eps)
        shift = -self.running_mean * scale
        return x * scale.view(1, -1, 1, 1).to(x.dtype) + shift.view(1, -1, 1, 1).to(x.dtype)


def _param_free_norm(kind: str, channels: int) -> nn.Module:
    check_choice("spade norm", kind, SPADE_NORMS)
    if kind == "batch":
        return _ParamFreeBatchNorm(channels)
    return InstanceNorm(channels)


def one_hot_labels(
    ids: torch.Tensor, num_classes: int, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """One-hot float maps of an integer label map, built by comparison (exports to ONNX).

    Ids outside ``[0, num_classes)`` give an all-zero vector (they never index memory, so they
    cannot crash a CUDA kernel); validate ids before training (the ``labelmap`` dataset format
    does).

    Args:
        ids: Integer ids, ``(N, 1, H, W)`` (or ``(N, H, W)``).
        num_classes: Number of classes ``C``.
        dtype: Output dtype (default float32).

    Returns:
        ``(N, C, H, W)`` with 1 at each pixel's class.
    """
    if ids.ndim == 3:
        ids = ids.unsqueeze(1)
    classes = torch.arange(num_classes, device=ids.device, dtype=ids.dtype).view(1, -1, 1, 1)
    return (ids == classes).to(dtype or torch.float32)


def instance_edges(instances: torch.Tensor) -> torch.Tensor:
    """Boundary map of an instance-id map: 1 where a pixel differs from a 4-neighbour.

    As in pix2pixHD / SPADE, the edge channel lets the generator separate touching objects of
    the same class. Built from slicing and comparisons only (exports to ONNX, any size).

    Args:
        instances: Integer instance ids ``(N, 1, H, W)``.

    Returns:
        Float ``(N, 1, H, W)`` in {0, 1}.
    """
    t = instances
    dx = (t[..., :, 1:] != t[..., :, :-1]).float()
    dy = (t[..., 1:, :] != t[..., :-1, :]).float()
    ex = torch.maximum(F.pad(dx, (1, 0, 0, 0)), F.pad(dx, (0, 1, 0, 0)))
    ey = torch.maximum(F.pad(dy, (0, 0, 1, 0)), F.pad(dy, (0, 0, 0, 1)))
    return torch.maximum(ex, ey)


class SPADE(nn.Module):
    """Spatially-adaptive (de)normalization.

    ``norm(x) * (1 + gamma(seg)) + beta(seg)``: ``norm`` has no parameters (batch norm with
    running statistics, or instance norm); ``gamma`` and ``beta`` are per-pixel, per-channel maps
    predicted from the label map by a shared conv + ReLU and two convs. The label map is resized
    to ``x``'s size with nearest neighbour.

    Args:
        channels: Channels of ``x``.
        label_nc: Channels of the label map (one-hot classes, plus an edge channel if any).
        hidden: Channels of the shared layer (128 in the paper).
        kernel: Kernel size of the three convs (3 in the paper).
        norm: ``"batch"`` (the paper's synchronized batch norm) or ``"instance"``.

    Shape:
        - x: :math:`(N, C, H, W)`; seg: :math:`(N, L, H', W')`; output: :math:`(N, C, H, W)`.
    """

    def __init__(
        self, channels: int, label_nc: int, hidden: int = 128, kernel: int = 3, norm: str = "batch"
    ) -> None:
        super().__init__()
        check_int("channels", channels, 1)
        check_int("label_nc", label_nc, 1)
        check_int("hidden", hidden, 1)
        if kernel < 1 or kernel % 2 == 0:
            raise ConfigError(f"SPADE kernel must be an odd size >= 1, got {kernel}")
        self.param_free_norm = _param_free_norm(norm, channels)
        pad = kernel // 2
        self.shared = nn.Sequential(nn.Conv2d(label_nc, hidden, kernel, padding=pad), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, kernel, padding=pad)
        self.beta = nn.Conv2d(hidden, channels, kernel, padding=pad)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` and modulate it with gain and bias maps predicted from ``seg``."""
        normalized = self.param_free_norm(x)
        if seg.shape[-2:] != x.shape[-2:]:
            seg = F.interpolate(seg, size=x.shape[-2:], mode="nearest")
        actv = self.shared(seg.to(x.dtype))
        return normalized * (1 + self.gamma(actv)) + self.beta(actv)


class SPADEResBlock(nn.Module):
    """SPADE residual block: ``shortcut(x) + conv(act(SPADE(conv(act(SPADE(x))))))``.

    The middle width is ``min(fin, fout)``; when ``fin != fout`` the shortcut is learned (SPADE
    then a bias-free 1x1 conv), else it is the identity. Activations are LeakyReLU(0.2).

    Args:
        fin: Input channels.
        fout: Output channels.
        label_nc: Label-map channels.
        spectral: Spectral norm on the block's convolutions (the paper's default).
        hidden: SPADE hidden channels.
        kernel: SPADE kernel size.
        norm: SPADE's parameter-free norm.

    Shape:
        - x: :math:`(N, fin, H, W)`; seg: :math:`(N, L, H', W')`; output: :math:`(N, fout, H, W)`.
    """

    def __init__(
        self,
        fin: int,
        fout: int,
        label_nc: int,
        spectral: bool = True,
        hidden: int = 128,
        kernel: int = 3,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        check_int("fin", fin, 1)
        check_int("fout", fout, 1)
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = _spectral_norm(nn.Conv2d(fin, fmiddle, 3, padding=1), spectral)
        self.conv_1 = _spectral_norm(nn.Conv2d(fmiddle, fout, 3, padding=1), spectral)
        self.norm_0 = SPADE(fin, label_nc, hidden, kernel, norm)
        self.norm_1 = SPADE(fmiddle, label_nc, hidden, kernel, norm)
        if self.learned_shortcut:
            self.conv_s = _spectral_norm(nn.Conv2d(fin, fout, 1, bias=False), spectral)
            self.norm_s = SPADE(fin, label_nc, hidden, kernel, norm)

    def forward(self, x: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` conditioned on the label map ``seg``."""
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return x_s + dx


def _up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class SPADEGenerator(nn.Module):
    """The SPADE generator: label map (and optionally a style code) -> image in [-1, 1].

    Layout (``num_upsampling`` = ``u``; the paper's "normal" is 5, "more" 6, "most" 7): the
    input is the label map downsampled to ``H / 2**u x W / 2**u`` (nearest) and a 3x3 conv to
    ``16 * ngf`` channels — or, with ``z_dim > 0``, a linear layer from ``z`` to a
    ``16 * ngf x base_h x base_w`` map (``base = train size / 2**u``), resized to that size for
    other input sizes. Then ``head_0``, upsample, ``G_middle_0``, (upsample when ``u >= 6``),
    ``G_middle_1``, and ``u - 1`` (or ``u - 2``) upsample + SPADE residual blocks halving the
    channels (never below ``ngf // 2``), LeakyReLU, a 3x3 conv to RGB and tanh.

    Args:
        label_nc: Label-map channels (classes, + dontcare, + instance edge).
        out_channels: Image channels.
        ngf: Base width (64 in the paper).
        num_upsampling: ``u`` in 2..7; input height and width must be multiples of ``2**u``.
        z_dim: Style-code size (0 = no code: start from the label map, as without the VAE).
        base_size: ``(base_h, base_w)`` of the code's map (``z_dim > 0`` only).
        spectral: Spectral norm in the residual blocks.
        hidden: SPADE hidden channels; kernel: SPADE kernel size; norm: SPADE's norm.

    Attributes:
        stride: ``2 ** num_upsampling``.

    Shape:
        - seg: :math:`(N, L, H, W)`, z: :math:`(N, z\\_dim)`; output: :math:`(N, 3, H, W)`.
    """

    def __init__(
        self,
        label_nc: int,
        out_channels: int = 3,
        ngf: int = 64,
        num_upsampling: int = 5,
        z_dim: int = 0,
        base_size: tuple[int, int] = (8, 8),
        spectral: bool = True,
        hidden: int = 128,
        kernel: int = 3,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        check_int("label_nc", label_nc, 1)
        check_int("ngf", ngf, 1)
        check_int("z_dim", z_dim, 0)
        if not 2 <= num_upsampling <= 7:
            raise ConfigError(
                f"num_upsampling must be between 2 and 7 (5 = the paper's 'normal'), got "
                f"{num_upsampling}"
            )
        self.label_nc, self.ngf, self.z_dim = label_nc, ngf, z_dim
        self.num_upsampling = num_upsampling
        self.stride = 2**num_upsampling
        self.base_size = (int(base_size[0]), int(base_size[1]))
        nf = 16 * ngf
        if z_dim > 0:
            self.fc = nn.Linear(z_dim, nf * self.base_size[0] * self.base_size[1])
        else:
            self.fc = nn.Conv2d(label_nc, nf, 3, padding=1)

        def block(fin: int, fout: int) -> SPADEResBlock:
            return SPADEResBlock(fin, fout, label_nc, spectral, hidden, kernel, norm)

        self.head_0 = block(nf, nf)
        self.G_middle_0 = block(nf, nf)  # noqa: N815 - the paper code's names
        self.G_middle_1 = block(nf, nf)  # noqa: N815
        self.extra_middle_up = num_upsampling >= 6
        n_blocks = num_upsampling - 1 - int(self.extra_middle_up)
        ups = []
        ch = nf
        for _ in range(n_blocks):
            nxt = max(ch // 2, max(1, ngf // 2))
            ups.append(block(ch, nxt))
            ch = nxt
        self.up = nn.ModuleList(ups)
        self.conv_img = nn.Conv2d(ch, out_channels, 3, padding=1)

    def forward(self, seg: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Synthesize an image for the label map ``seg`` (and style code ``z``).

        Raises:
            InputError: H or W not a multiple of :attr:`stride`, or a missing ``z``.
        """
        h, w = seg.shape[-2], seg.shape[-1]
        if checking() and (h % self.stride or w % self.stride):
            raise InputError(
                f"SPADE generator input height and width must be multiples of {self.stride}, "
                f"got {h}x{w}; pad the label map (nearest / edge) to a multiple of {self.stride}"
            )
        sh, sw = h // self.stride, w // self.stride
        if self.z_dim > 0:
            if z is None:
                raise InputError("this SPADE generator needs a style code z of shape (N, z_dim)")
            bh, bw = self.base_size
            x = self.fc(z).view(-1, 16 * self.ngf, bh, bw)
            if (bh, bw) != (sh, sw) or not checking():
                x = F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False)
        else:
            x = self.fc(F.interpolate(seg, size=(sh, sw), mode="nearest"))
        x = self.head_0(x, seg)
        x = _up(x)
        x = self.G_middle_0(x, seg)
        if self.extra_middle_up:
            x = _up(x)
        x = self.G_middle_1(x, seg)
        for blk in self.up:
            x = blk(_up(x), seg)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


class StyleEncoder(nn.Module):
    """The SPADE VAE encoder: image -> ``(mu, logvar)`` of a ``z_dim`` style code.

    The image is resized (bilinear) to ``size x size`` (256 in the paper), then
    ``log2(size / 4)`` stride-2 3x3 convs (spectral norm + instance norm, LeakyReLU 0.2;
    widths ``ndf * 1, 2, 4, 8, 8, ...``) bring it to 4x4, and two linear layers give ``mu`` and
    ``logvar``. Any input size works (and exports with dynamic height and width).

    Args:
        in_channels: Image channels.
        z_dim: Code size (256 in the paper).
        ndf: Base width (64 in the paper).
        size: Side the image is resized to (a power of two >= 8).
        spectral: Spectral norm on the convolutions.

    Shape:
        - x: :math:`(N, C, H, W)`; output: two :math:`(N, z\\_dim)` tensors.
    """

    def __init__(
        self, in_channels: int = 3, z_dim: int = 256, ndf: int = 64, size: int = 256,
        spectral: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        check_int("z_dim", z_dim, 1)
        check_int("ndf", ndf, 1)
        if size < 8 or size & (size - 1):
            raise ConfigError(f"style encoder size must be a power of two >= 8, got {size}")
        self.size = size
        n = int(math.log2(size // 4))
        layers: list[nn.Module] = []
        ch_in = in_channels
        for i in range(n):
            ch = ndf * min(2**i, 8)
            layers += [
                _spectral_norm(nn.Conv2d(ch_in, ch, 3, stride=2, padding=1), spectral),
                InstanceNorm(ch),
                nn.LeakyReLU(0.2),
            ]
            ch_in = ch
        self.body = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(ch_in * 16, z_dim)
        self.fc_var = nn.Linear(ch_in * 16, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of the style code of ``x``."""
        if x.shape[-2] != self.size or x.shape[-1] != self.size or not checking():
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        h = self.body(x).flatten(1)
        return self.fc_mu(h), self.fc_var(h)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence of ``N(mu, exp(logvar))`` from ``N(0, 1)``, summed (as in SPADE's KLDLoss).

    Returns:
        Float32 scalar ``-0.5 * sum(1 + logvar - mu^2 - exp(logvar))``.
    """
    mu, logvar = mu.float(), logvar.float()
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class SPADEDiscriminator(nn.Module):
    """One PatchGAN scale that returns its intermediate features (pix2pixHD / SPADE layout).

    ``conv4x4 s2 + LeakyReLU``, then ``n_layers - 1`` blocks ``conv4x4 + norm + LeakyReLU``
    (stride 2, the last stride 1; widths doubling up to 512), then a stride-1 conv to one
    channel. Kernel 4, padding 2 (as the reference). Spectral norm and the norm apply to the
    middle blocks.

    Args:
        in_channels: Input channels (label channels + image channels).
        ndf: Base width.
        n_layers: Blocks after the first conv (4 in SPADE).
        norm: ``"instance"`` (SPADE), ``"batch"`` or ``"none"``.
        spectral: Spectral norm on the middle convs.

    Returns (forward):
        A list of ``n_layers + 1`` feature maps; the last is the :math:`(N, 1, H', W')`
        prediction.
    """

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 4, norm: str = "instance",
        spectral: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("n_layers", n_layers, 1)
        check_choice("discriminator norm", norm, ("instance", "batch", "none"))
        kw, pw = 4, 2
        blocks: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, ndf, kw, 2, pw), nn.LeakyReLU(0.2))
        ]
        nf = ndf
        for n in range(1, n_layers):
            prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            conv = _spectral_norm(
                nn.Conv2d(prev, nf, kw, stride, pw, bias=norm == "none"), spectral
            )
            layers: list[nn.Module] = [conv]
            if norm == "instance":
                layers.append(InstanceNorm(nf))
            elif norm == "batch":
                layers.append(nn.BatchNorm2d(nf))
            layers.append(nn.LeakyReLU(0.2))
            blocks.append(nn.Sequential(*layers))
        blocks.append(nn.Conv2d(nf, 1, kw, 1, pw))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate features of ``x``; the last item is the patch prediction."""
        feats = []
        for blk in self.blocks:
            x = blk(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` :class:`SPADEDiscriminator` scales on the input and its 2x, 4x... downsamplings.

    The input is downsampled between scales with a 3x3 stride-2 average pool (padding 1, padding
    not counted), as in pix2pixHD / SPADE.

    Args:
        in_channels: Input channels.
        ndf, n_layers, norm, spectral: Of each scale (see :class:`SPADEDiscriminator`).
        num_D: Number of scales (2 in SPADE).

    Returns (forward):
        One feature list per scale (finest first); every list ends with that scale's
        prediction, which :class:`i2i.nn.GANLoss` subclasses and
        :func:`feature_matching_loss` understand.
    """

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 4, num_D: int = 2,  # noqa: N803
        norm: str = "instance", spectral: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        check_int("num_D", num_D, 1)
        self.scales = nn.ModuleList(
            SPADEDiscriminator(in_channels, ndf, n_layers, norm, spectral) for _ in range(num_D)
        )

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Feature lists of every scale."""
        out = []
        for i, d in enumerate(self.scales):
            if i > 0:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out


def feature_matching_loss(
    fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]], weight: float = 10.0
) -> torch.Tensor:
    """pix2pixHD / SPADE feature matching: L1 between fake and (detached) real features.

    ``weight / num_D * sum over scales and intermediate layers of mean|f_fake - f_real|``; each
    scale's last item (its prediction) is left out.

    Args:
        fake: :class:`MultiscaleDiscriminator` output for the fakes (gradients flow).
        real: Its output for the reals (detached here).
        weight: ``lambda_feat`` (10 in SPADE).

    Returns:
        Float32 scalar.

    Raises:
        InputError: the two outputs have different numbers of scales or layers.
    """
    if len(fake) != len(real) or any(len(a) != len(b) for a, b in zip(fake, real, strict=False)):
        raise InputError(
            "feature matching needs discriminator outputs with the same scales and layers, got "
            f"{[len(f) for f in fake]} and {[len(r) for r in real]}"
        )
    total = torch.zeros((), device=fake[0][0].device, dtype=torch.float32)
    for f_scale, r_scale in zip(fake, real, strict=True):
        for f, r in zip(f_scale[:-1], r_scale[:-1], strict=True):
            total = total + F.l1_loss(f.float(), r.detach().float())
    return total * (weight / len(fake))
