"""Built-in plugin: the GAN losses selectable as ``loss.gan_mode``.

``vanilla`` (non-saturating BCE), ``lsgan`` (least squares), ``hinge`` and ``wgangp``
(Wasserstein; the loss object has ``uses_gradient_penalty = True`` so a family adds
:func:`i2i.nn.gradient_penalty` to its discriminator loss).
"""

from __future__ import annotations

from i2i import Registrar, hookimpl
from i2i.nn import HingeGANLoss, LSGANLoss, VanillaGANLoss, WGANLoss


@hookimpl
def i2i_register_losses(registrar: Registrar) -> None:
    """Register the built-in GAN losses (each class is its own zero-argument factory)."""
    registrar.add("vanilla", VanillaGANLoss)
    registrar.add("lsgan", LSGANLoss)
    registrar.add("hinge", HingeGANLoss)
    registrar.add("wgangp", WGANLoss)
