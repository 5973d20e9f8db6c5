"""Class-conditional GAN primitives: SNGAN / BigGAN-style generator and projection discriminator.

Building blocks for class-conditional image synthesis from noise ``z`` and a class label ``y``:

- :class:`ConditionalBatchNorm2d`: batch norm with a per-class gain and bias (de Vries et al.
  2017; as in SNGAN / BigGAN generators);
- :class:`SelfAttention2d`: the SAGAN self-attention block (Zhang et al. 2019), as in BigGAN;
- :class:`MinibatchStdDev`: the minibatch standard-deviation channel (Karras et al. 2018);
- :class:`ConditionalGenerator`: residual generator ``(z, y) -> image``;
- :class:`ProjectionDiscriminator`: SNGAN residual discriminator with the projection head of
  Miyato & Koyama 2018, optionally with an auxiliary classifier (ACGAN, Odena et al. 2017).

Everything exports to ONNX (opset 17) once spectral norm is folded into the weights, e.g. with
``i2i.export.onnx.prepare_for_export`` (PyTorch's eval-mode spectral norm uses ``aten::vdot``,
which the ONNX exporter does not support).

Example:
    >>> import torch
    >>> g = ConditionalGenerator(z_dim=16, num_classes=3, ngf=8, image_size=32)
    >>> d = ProjectionDiscriminator(num_classes=3, ndf=8, image_size=32)
    >>> y = torch.tensor([0, 2])
    >>> fake = g(torch.randn(2, 16), y)
    >>> fake.shape, d(fake, y).shape
    (torch.Size([2, 3, 32, 32]), torch.Size([2, 1]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import ConfigError, InputError
from i2i.nn._checks import check_int, checking
from i2i.nn.norm import add_spectral_norm
from i2i.nn.norm import spectral_norm as _spectral_norm


def _check_labels(y: torch.Tensor, batch: int, num_classes: int, what: str) -> None:
    """Raise InputError unless ``y`` is an integer (N,) tensor with values in [0, num_classes)."""
    if not checking():
        return
    if y.ndim != 1 or y.shape[0] != batch:
        raise InputError(
            f"{what} expects class labels of shape ({batch},), got {tuple(y.shape)}; "
            "pass one integer label per sample"
        )
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise InputError(
            f"{what} expects integer class labels, got dtype {y.dtype}; pass a LongTensor"
        )
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise InputError(
            f"{what} class labels must be in [0, {num_classes}), got values in "
            f"[{int(y.min())}, {int(y.max())}]; pass labels 0..{num_classes - 1}"
        )


def _levels(image_size: int) -> int:
    """``k`` with ``image_size == 4 * 2**k`` (k >= 1), else ConfigError."""
    check_int("image_size", image_size, 8)
    k = (image_size // 4).bit_length() - 1
    if image_size != 4 * 2**k:
        raise ConfigError(
            f"image_size must be 4 * 2**k (8, 16, 32, 64, 128, ...), got {image_size}; "
            "set image_size to one of these"
        )
    return k


def _check_attention(resolution: int, allowed: list[int], what: str) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise ConfigError(f"attention_resolution must be an integer, got {resolution!r}")
    if resolution != 0 and resolution not in allowed:
        raise ConfigError(
            f"{what} attention_resolution must be 0 (none) or one of "
            f"{', '.join(map(str, allowed))}, got {resolution}; set it to one of these"
        )


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose affine gain and bias are looked up per class.

    ``BatchNorm2d(affine=False)`` followed by ``gamma[y] * x + beta[y]``, with ``gamma`` and
    ``beta`` stored as ``nn.Embedding(num_classes, num_features)`` tables initialized to 1 and 0.

    Args:
        num_features: Channels ``C``.
        num_classes: Number of classes.
        eps: Added to the variance.
        momentum: Running-statistics momentum of the batch norm.

    Raises:
        ConfigError: ``num_features`` or ``num_classes`` < 1.

    Shape:
        - Input: :math:`(N, C, H, W)` and labels :math:`(N,)` (int64).
        - Output: :math:`(N, C, H, W)`.
    """

    def __init__(
        self, num_features: int, num_classes: int, eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        check_int("num_features", num_features, 1)
        check_int("num_classes", num_classes, 1)
        self.num_features = num_features
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)
        self.check_labels = True  # the generator checks labels once, not in every layer

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` and apply the gain and bias of each sample's class.

        Args:
            x: Feature maps.
            y: Class labels in ``[0, num_classes)``.

        Returns:
            The modulated feature maps.

        Raises:
            InputError: bad label shape, dtype or range (checked outside tracing only).
        """
        if self.check_labels:
            _check_labels(y, x.shape[0], self.num_classes, "ConditionalBatchNorm2d")
        out = self.bn(x)
        gamma = self.gamma(y).unsqueeze(-1).unsqueeze(-1)
        beta = self.beta(y).unsqueeze(-1).unsqueeze(-1)
        return gamma * out + beta

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_classes={self.num_classes}"


class SelfAttention2d(nn.Module):
    """SAGAN self-attention block, as in BigGAN: ``x + gamma * attention(x)``.

    1x1 convs give queries and keys with ``max(C // 8, 1)`` channels and values with
    ``max(C // 2, 1)`` channels; keys and values are max-pooled 2x2 (when ``pool``), attention
    is a softmax over the pooled positions, and a 1x1 conv maps the result back to ``C``
    channels. ``gamma`` is a learnable scalar initialized to 0, so the block starts as identity.

    Args:
        channels: Channels ``C``.
        spectral_norm: Apply spectral norm to the four 1x1 convs.
        pool: Max-pool keys and values 2x2 (4x fewer attended positions; H and W must be even).

    Raises:
        ConfigError: ``channels`` < 1.

    Shape:
        - Input: :math:`(N, C, H, W)` (H and W even when ``pool``); output: same shape.
    """

    def __init__(self, channels: int, spectral_norm: bool = True, pool: bool = True) -> None:
        super().__init__()
        check_int("channels", channels, 1)
        self.channels = channels
        self.pool = pool
        ck, cv = max(channels // 8, 1), max(channels // 2, 1)
        self.query = nn.Conv2d(channels, ck, 1, bias=False)
        self.key = nn.Conv2d(channels, ck, 1, bias=False)
        self.value = nn.Conv2d(channels, cv, 1, bias=False)
        self.out = nn.Conv2d(cv, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        _spectral_norm(self, spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the attention output, scaled by ``gamma``, to ``x``.

        Args:
            x: Feature maps.

        Returns:
            Feature maps of the same shape.
        """
        n, _, h, w = x.shape
        q = self.query(x).flatten(2)  # (N, Ck, HW)
        k, v = self.key(x), self.value(x)
        if self.pool:
            k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
        k, v = k.flatten(2), v.flatten(2)  # (N, Ck, P), (N, Cv, P)
        attn = torch.softmax(torch.matmul(q.transpose(1, 2), k), dim=-1)  # (N, HW, P)
        o = torch.matmul(v, attn.transpose(1, 2))  # (N, Cv, HW)
        o = self.out(o.reshape(n, -1, h, w))
        return x + self.gamma * o


class MinibatchStdDev(nn.Module):
    """Append the minibatch standard deviation as one extra channel (ProGAN / StyleGAN).

    The batch is split into groups of ``G = min(group_size, N)`` samples (sample ``i`` goes to
    group ``i % (N // G)``, as in StyleGAN); when ``N`` is not a multiple of ``G``, one group of
    all ``N`` samples is used. For each group, the standard deviation of every feature over the
    group is averaged into one number, broadcast to an ``H x W`` channel of each member.
    With ``N == 1`` the channel is ``sqrt(1e-8)`` everywhere.

    The grouping is computed in Python from the batch size, so an exported (traced) graph is
    valid for the batch size it was exported with only: export with a fixed batch.

    Args:
        group_size: Maximum samples per group.

    Raises:
        ConfigError: ``group_size`` < 1.

    Shape:
        - Input: :math:`(N, C, H, W)`; output: :math:`(N, C + 1, H, W)`.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        check_int("group_size", group_size, 1)
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the standard-deviation channel to ``x``.

        Args:
            x: Feature maps.

        Returns:
            ``x`` with one more channel.
        """
        n, c, h, w = (int(s) for s in x.shape)
        g = min(self.group_size, n)
        if n % g:
            g = n
        s = x.reshape(g, n // g, c, h, w)
        s = s - s.mean(dim=0, keepdim=True)
        s = torch.sqrt(s.pow(2).mean(dim=0) + 1e-8)  # (M, C, H, W)
        s = s.mean(dim=(1, 2, 3)).reshape(n // g, 1, 1, 1)
        s = s.repeat(g, 1, h, w)  # row j belongs to group j % M
        return torch.cat([x, s], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class _GBlock(nn.Module):
    """Generator up-block: CBN-ReLU-up-conv3-CBN-ReLU-conv3 plus up-conv1 shortcut."""

    def __init__(self, cin: int, cout: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.bn1.check_labels = self.bn2.check_labels = False

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(x, y))
        h = self.conv1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.conv2(F.relu(self.bn2(h, y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ConditionalGenerator(nn.Module):
    """Class-conditional residual generator (SNGAN / BigGAN style): ``(z, y) -> image``.

    A linear layer maps ``z`` to a ``(C_0, 4, 4)`` map, ``k = log2(image_size / 4)`` residual
    up-blocks double the resolution (``CBN-ReLU-Upsample(nearest x2)-Conv3x3-CBN-ReLU-Conv3x3``
    plus an ``Upsample-Conv1x1`` shortcut; CBN is :class:`ConditionalBatchNorm2d` on ``y``),
    an optional :class:`SelfAttention2d` follows the block whose output has
    ``attention_resolution`` pixels, then ``BatchNorm-ReLU-Conv3x3-tanh``.

    Channels: at 4x4 ``C_0 = ngf * min(2**(k - 1), 8)``; every block halves them, never below
    ``ngf`` (32 px: ``4ngf -> 2ngf -> ngf -> ngf``; 64 px: ``8ngf -> 4ngf -> 2ngf -> ngf -> ngf``).
    Weights use PyTorch's default init (call :func:`i2i.nn.init_weights` for another one).

    Args:
        z_dim: Noise dimension.
        num_classes: Number of classes.
        ngf: Channels of the last block.
        image_size: Output height and width: ``4 * 2**k`` with ``k >= 1`` (8, 16, 32, 64, ...).
        out_channels: Image channels.
        spectral_norm: Spectral norm on every conv and linear layer (as in BigGAN).
        attention_resolution: Resolution (8 .. ``image_size``) after which self-attention is
            applied, or 0 for none.

    Attributes:
        z_dim, num_classes, image_size, out_channels: As given.

    Raises:
        ConfigError: invalid sizes, ``image_size`` not ``4 * 2**k`` or a resolution without a
            block.

    Shape:
        - Input: ``z`` :math:`(N, z\\_dim)` and ``y`` :math:`(N,)` (int64 in ``[0, num_classes)``).
        - Output: :math:`(N, out\\_channels, image\\_size, image\\_size)` in [-1, 1].
    """

    def __init__(
        self,
        z_dim: int = 128,
        num_classes: int = 10,
        ngf: int = 64,
        image_size: int = 32,
        out_channels: int = 3,
        spectral_norm: bool = True,
        attention_resolution: int = 0,
    ) -> None:
        super().__init__()
        check_int("z_dim", z_dim, 1)
        check_int("num_classes", num_classes, 1)
        check_int("ngf", ngf, 1)
        check_int("out_channels", out_channels, 1)
        k = _levels(image_size)
        _check_attention(attention_resolution, [4 * 2**i for i in range(1, k + 1)], "generator")
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.image_size = image_size
        self.out_channels = out_channels
        chans = [ngf * min(max(2 ** (k - 1 - i), 1), 8) for i in range(k + 1)]
        self.c0 = chans[0]
        self.linear = nn.Linear(z_dim, chans[0] * 16)
        self.blocks = nn.ModuleList(_GBlock(chans[i], chans[i + 1], num_classes) for i in range(k))
        self.attention_index = -1
        self.attention: SelfAttention2d | None = None
        if attention_resolution:
            self.attention_index = attention_resolution.bit_length() - 4  # 8 px -> block 0
            self.attention = SelfAttention2d(chans[self.attention_index + 1], spectral_norm)
        self.out = nn.Sequential(
            nn.BatchNorm2d(ngf),
            nn.ReLU(),
            nn.Conv2d(ngf, out_channels, 3, padding=1),
            nn.Tanh(),
        )
        _spectral_norm(self, spectral_norm)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generate images of classes ``y`` from noise ``z``.

        Args:
            z: Noise vectors.
            y: Class labels.

        Returns:
            Images in [-1, 1].

        Raises:
            InputError: ``z`` is not ``(N, z_dim)`` or ``y`` is not ``(N,)`` integer labels in
                ``[0, num_classes)`` (checked outside tracing / export only).
        """
        if checking():
            if z.ndim != 2 or z.shape[1] != self.z_dim:
                raise InputError(
                    f"generator expects noise of shape (N, {self.z_dim}), got {tuple(z.shape)}; "
                    f"pass z with {self.z_dim} features"
                )
            _check_labels(y, z.shape[0], self.num_classes, "generator")
        h = self.linear(z).unflatten(1, (self.c0, 4, 4))  # reshape(-1, ...) breaks ONNX BN
        for i, block in enumerate(self.blocks):
            h = block(h, y)
            if i == self.attention_index and self.attention is not None:
                h = self.attention(h)
        return self.out(h)


class _DBlock(nn.Module):
    """Discriminator block: [ReLU]-conv3-ReLU-conv3-[avgpool] plus conv1-shortcut.

    ``optimized`` (the first block, on images): no leading ReLU, and the shortcut pools first
    (``avgpool-conv1x1``); otherwise the shortcut is ``conv1x1-avgpool`` (learnable only when
    channels change or the block downsamples, else identity).
    """

    def __init__(self, cin: int, cout: int, downsample: bool, optimized: bool = False) -> None:
        super().__init__()
        self.downsample = downsample
        self.optimized = optimized
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        learnable = optimized or downsample or cin != cout
        self.shortcut = nn.Conv2d(cin, cout, 1) if learnable else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.optimized else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.optimized:
            s = F.avg_pool2d(s, 2) if self.downsample else s
            s = self.shortcut(s)
        elif self.shortcut is not None:
            s = self.shortcut(s)
            s = F.avg_pool2d(s, 2) if self.downsample else s
        return h + s


class ProjectionDiscriminator(nn.Module):
    """SNGAN residual discriminator with a projection head (Miyato & Koyama 2018).

    Layers: ``k = log2(image_size / 4)`` downsampling residual blocks to 4x4 (the first one
    "optimized": ``conv-ReLU-conv-avgpool`` with an ``avgpool-conv1x1`` shortcut; the others
    ``ReLU-conv-ReLU-conv-avgpool`` with a ``conv1x1-avgpool`` shortcut) with channels
    ``ndf * min(2**i, 16)`` for block ``i``, an optional :class:`SelfAttention2d` after the block
    whose output has ``attention_resolution`` pixels, an optional :class:`MinibatchStdDev`, a
    last non-downsampling block (same channels), ReLU and global sum pooling to features ``h``.
    Output: ``linear(h) + sum(embed(y) * h)`` (``embed`` an ``nn.Embedding``; the projection
    term is left out when ``projection=False``). With ``aux_classifier`` a second linear head
    gives class logits (ACGAN), to be trained with cross-entropy.

    Args:
        in_channels: Image channels.
        num_classes: Number of classes.
        ndf: Channels of the first block.
        image_size: Input height and width: ``4 * 2**k`` with ``k >= 1``.
        spectral_norm: Spectral norm on every conv, linear and the embedding (as in SNGAN).
        attention_resolution: 0 (none) or a block output resolution (``image_size / 2`` .. 4).
        minibatch_std: Add a :class:`MinibatchStdDev` channel before the last block (exported
            graphs then work for the export batch size only).
        aux_classifier: Also return class logits (ACGAN).
        projection: Add the projection term (set ``False`` with ``aux_classifier`` for a
            plain ACGAN discriminator).

    Raises:
        ConfigError: invalid sizes or attention resolution.

    Shape:
        - Input: ``x`` :math:`(N, in\\_channels, image\\_size, image\\_size)` and ``y``
          :math:`(N,)` (int64 in ``[0, num_classes)``).
        - Output: logits :math:`(N, 1)`; with ``aux_classifier`` a tuple
          ``(logits (N, 1), class_logits (N, num_classes))``.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        ndf: int = 64,
        image_size: int = 32,
        spectral_norm: bool = True,
        attention_resolution: int = 0,
        minibatch_std: bool = False,
        aux_classifier: bool = False,
        projection: bool = True,
    ) -> None:
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("num_classes", num_classes, 1)
        check_int("ndf", ndf, 1)
        k = _levels(image_size)
        _check_attention(
            attention_resolution, [image_size // 2**i for i in range(1, k + 1)], "discriminator"
        )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.image_size = image_size
        self.aux_classifier = aux_classifier
        chans = [ndf * min(2**i, 16) for i in range(k)]
        blocks: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(chans):
            blocks.append(_DBlock(cin, c, downsample=True, optimized=i == 0))
            if image_size // 2 ** (i + 1) == attention_resolution:
                blocks.append(SelfAttention2d(c, spectral_norm))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = MinibatchStdDev() if minibatch_std else None
        c = chans[-1]
        self.last = _DBlock(c + int(minibatch_std), c, downsample=False)
        self.linear = nn.Linear(c, 1)
        self.embed = nn.Embedding(num_classes, c) if projection else None
        self.classifier = nn.Linear(c, num_classes) if aux_classifier else None
        _spectral_norm(self, spectral_norm)
        if spectral_norm and self.embed is not None:
            add_spectral_norm(self.embed)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Score images ``x`` as real / fake for classes ``y``.

        Args:
            x: Images.
            y: Class labels (used by the projection term).

        Returns:
            Logits ``(N, 1)``; with ``aux_classifier``, ``(logits, class_logits)``.

        Raises:
            InputError: ``x`` is not ``(N, in_channels, image_size, image_size)`` or ``y`` is
                not ``(N,)`` integer labels in ``[0, num_classes)`` (checked outside tracing).
        """
        if checking():
            s, c = self.image_size, self.in_channels
            if x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
                raise InputError(
                    f"discriminator expects (N, {c}, {s}, {s}) input, got {tuple(x.shape)}; "
                    f"resize images to {s}x{s} with {c} channels"
                )
            _check_labels(y, x.shape[0], self.num_classes, "discriminator")
        h = self.blocks(x)
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = F.relu(self.last(h)).sum(dim=(2, 3))
        out = self.linear(h)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(dim=1, keepdim=True)
        if self.classifier is not None:
            return out, self.classifier(h)
        return out
