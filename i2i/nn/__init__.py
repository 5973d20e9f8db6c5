"""Shared GAN primitives: pure ``nn.Module`` building blocks and functions.

Nothing here knows about plugins, datasets, training or the CLI.

Example:
    >>> import torch
    >>> from i2i.nn import LSGANLoss, NLayerDiscriminator, ResnetGenerator, init_weights
    >>> g = init_weights(ResnetGenerator(3, 3, ngf=8, n_blocks=2))
    >>> d = init_weights(NLayerDiscriminator(3, ndf=8))
    >>> fake = g(torch.zeros(1, 3, 64, 64))
    >>> loss = LSGANLoss()(d(fake), target_is_real=True, for_discriminator=False)
"""

from __future__ import annotations

from i2i.nn.conditional import (
    ConditionalBatchNorm2d,
    ConditionalGenerator,
    MinibatchStdDev,
    ProjectionDiscriminator,
    SelfAttention2d,
)
from i2i.nn.discriminators import (
    NLayerDiscriminator,
    PixelDiscriminator,
    patchgan_output_size,
    receptive_field,
)
from i2i.nn.ema import ModelEMA
from i2i.nn.generators import PADDINGS, UPSAMPLES, ResnetBlock, ResnetGenerator
from i2i.nn.init import INIT_KINDS, init_weights
from i2i.nn.losses import (
    GANLoss,
    HingeGANLoss,
    LSGANLoss,
    Prediction,
    VanillaGANLoss,
    WGANLoss,
    discriminator_loss,
    flatten_predictions,
    gradient_penalty,
)
from i2i.nn.norm import (
    NORM_LAYERS,
    PerImageBatchNorm,
    SpectralNorm,
    add_spectral_norm,
    disable_dropout,
    norm_layer,
    per_image_batch_norm,
    spectral_norm,
    uses_bias,
)
from i2i.nn.perceptual import (
    PERCEPTUAL_CRITERIA,
    VGG19_LAYERS,
    VGGPerceptualLoss,
    load_vgg19_features,
    vgg_loss_or_none,
)
from i2i.nn.pool import ImagePool
from i2i.nn.spade import (
    SPADE,
    SPADE_NORMS,
    MultiscaleDiscriminator,
    SPADEDiscriminator,
    SPADEGenerator,
    SPADEResBlock,
    StyleEncoder,
    feature_matching_loss,
    instance_edges,
    kl_divergence,
    one_hot_labels,
)
from i2i.nn.sr import (
    PIXEL_LOSSES,
    RRDB,
    SR_SCALES,
    SR_UPSAMPLERS,
    RelativisticAverageGANLoss,
    ResidualDenseBlock,
    RRDBNet,
    SRResNet,
    UNetDiscriminator,
    Upsampler,
    ValueRange,
    VGGStyleDiscriminator,
    charbonnier_loss,
    pixel_loss,
    pixel_unshuffle,
)
from i2i.nn.unet import UnetGenerator, UnetSkipConnectionBlock

__all__ = [
    "ConditionalBatchNorm2d",
    "ConditionalGenerator",
    "MinibatchStdDev",
    "ProjectionDiscriminator",
    "SelfAttention2d",
    "GANLoss",
    "HingeGANLoss",
    "INIT_KINDS",
    "ImagePool",
    "ModelEMA",
    "LSGANLoss",
    "NLayerDiscriminator",
    "NORM_LAYERS",
    "PADDINGS",
    "PERCEPTUAL_CRITERIA",
    "PerImageBatchNorm",
    "PixelDiscriminator",
    "Prediction",
    "ResnetBlock",
    "ResnetGenerator",
    "UPSAMPLES",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "VGG19_LAYERS",
    "VGGPerceptualLoss",
    "VanillaGANLoss",
    "WGANLoss",
    "SpectralNorm",
    "add_spectral_norm",
    "disable_dropout",
    "flatten_predictions",
    "discriminator_loss",
    "gradient_penalty",
    "init_weights",
    "load_vgg19_features",
    "norm_layer",
    "patchgan_output_size",
    "per_image_batch_norm",
    "receptive_field",
    "spectral_norm",
    "uses_bias",
    "vgg_loss_or_none",
    # SPADE
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
    # super-resolution
    "PIXEL_LOSSES",
    "RRDB",
    "SR_SCALES",
    "SR_UPSAMPLERS",
    "RRDBNet",
    "RelativisticAverageGANLoss",
    "ResidualDenseBlock",
    "SRResNet",
    "UNetDiscriminator",
    "Upsampler",
    "VGGStyleDiscriminator",
    "ValueRange",
    "charbonnier_loss",
    "pixel_loss",
    "pixel_unshuffle",
]
