"""Adversarial losses and the WGAN-GP gradient penalty.

Every loss is an ``nn.Module`` with one signature::

    loss(prediction, target_is_real: bool, for_discriminator: bool = True) -> Tensor

``prediction`` is the discriminator's raw logits: a tensor, a list of tensors (multi-scale
discriminators; the loss is the average over scales) or a list of lists of feature maps (the last
feature map of each scale is its prediction). Targets are built with ``torch.ones_like`` /
``torch.zeros_like`` on each call, so device and dtype follow the prediction; half / bfloat16
predictions are reduced in float32 for accuracy, which also works under autocast.

Example:
    >>> import torch
    >>> LSGANLoss()(torch.zeros(2, 1, 4, 4), target_is_real=True)
    tensor(1.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from i2i.errors import InputError

#: What a discriminator returns: logits, or per-scale logits, or per-scale feature lists.
Prediction = torch.Tensor | Sequence[torch.Tensor | Sequence[torch.Tensor]]


def flatten_predictions(prediction: Prediction) -> list[torch.Tensor]:
    """The logit tensor of each discriminator scale.

    Args:
        prediction: A tensor, a list of tensors, or a list of lists of feature maps (the last
            element of each inner list is that scale's prediction).

    Returns:
        One tensor per scale.

    Raises:
        InputError: an empty list or an item that is not a tensor.
    """
    if isinstance(prediction, torch.Tensor):
        return [prediction]
    if not isinstance(prediction, (list, tuple)) or not prediction:
        raise InputError(
            "discriminator prediction must be a tensor or a non-empty list of tensors / lists "
            f"of feature maps, got {type(prediction).__name__} {prediction!r:.60}"
        )
    out = []
    for item in prediction:
        if isinstance(item, (list, tuple)):
            if not item:
                raise InputError("a discriminator scale returned an empty feature list")
            item = item[-1]
        if not isinstance(item, torch.Tensor):
            raise InputError(
                f"discriminator prediction items must be tensors, got {type(item).__name__}"
            )
        out.append(item)
    return out


def _upcast(x: torch.Tensor) -> torch.Tensor:
    """Half / bfloat16 -> float32 (losses are reductions; low precision loses accuracy)."""
    if x.is_floating_point() and x.element_size() < 4:
        return x.float()
    return x


class GANLoss(nn.Module):
    """Base class: averages :meth:`compute` over discriminator scales.

    Subclasses implement :meth:`compute` for a single logit tensor.

    Attributes:
        uses_gradient_penalty: Whether the family should add :func:`gradient_penalty` to the
            discriminator loss (True for :class:`WGANLoss`).
    """

    uses_gradient_penalty: ClassVar[bool] = False

    def forward(
        self, prediction: Prediction, target_is_real: bool, for_discriminator: bool = True
    ) -> torch.Tensor:
        """Adversarial loss of a (multi-scale) discriminator output.

        Args:
            prediction: Raw logits (see :func:`flatten_predictions`).
            target_is_real: Whether the images were real (D) / should look real (G).
            for_discriminator: True in the discriminator step, False in the generator step.

        Returns:
            Scalar loss (float32 for half / bfloat16 predictions).

        Raises:
            InputError: a malformed prediction or a non-bool ``target_is_real``.

        Shape:
            - prediction: any shape per scale, e.g. :math:`(N, 1, H', W')`; output: scalar.
        """
        if not isinstance(target_is_real, bool):
            raise InputError(
                f"target_is_real must be True or False, got {type(target_is_real).__name__}"
            )
        preds = flatten_predictions(prediction)
        total = self.compute(_upcast(preds[0]), target_is_real, for_discriminator)
        for p in preds[1:]:
            total = total + self.compute(_upcast(p), target_is_real, for_discriminator)
        return total / len(preds)

    def compute(
        self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool
    ) -> torch.Tensor:
        """Loss of one logit tensor (see :meth:`forward` for the arguments)."""
        raise NotImplementedError


class VanillaGANLoss(GANLoss):
    """The original GAN loss with binary cross-entropy on logits.

    The generator uses the non-saturating form: call it with ``target_is_real=True`` on the
    fakes, which gives ``-log(sigmoid(D(G(x))))``.
    """

    def compute(
        self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool
    ) -> torch.Tensor:
        """BCE-with-logits against all-ones (real) or all-zeros (fake)."""
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return F.binary_cross_entropy_with_logits(prediction, target)


class LSGANLoss(GANLoss):
    """Least-squares GAN loss (Mao et al. 2017): MSE to 1 (real) or 0 (fake); CycleGAN's default."""

    def compute(
        self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool
    ) -> torch.Tensor:
        """Mean squared error against all-ones (real) or all-zeros (fake)."""
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return F.mse_loss(prediction, target)


class HingeGANLoss(GANLoss):
    """Hinge loss (SAGAN / SPADE).

    Discriminator: ``mean(relu(1 - x))`` for reals, ``mean(relu(1 + x))`` for fakes.
    Generator: ``-mean(x)``; only ``target_is_real=True`` makes sense there.
    """

    def compute(
        self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool
    ) -> torch.Tensor:
        """Hinge loss of one logit tensor.

        Raises:
            InputError: generator step with ``target_is_real=False``.
        """
        if for_discriminator:
            if target_is_real:
                return F.relu(1.0 - prediction).mean()
            return F.relu(1.0 + prediction).mean()
        if not target_is_real:
            raise InputError(
                "hinge generator loss needs target_is_real=True, got False; "
                "the generator always wants its fakes to score as real"
            )
        return -prediction.mean()


class WGANLoss(GANLoss):
    """Wasserstein loss: ``-mean(x)`` for reals (and for the generator), ``mean(x)`` for fakes.

    Pair it with :func:`gradient_penalty` in the discriminator step (WGAN-GP);
    :attr:`uses_gradient_penalty` is True.
    """

    uses_gradient_penalty: ClassVar[bool] = True

    def compute(
        self, prediction: torch.Tensor, target_is_real: bool, for_discriminator: bool
    ) -> torch.Tensor:
        """Signed mean of the critic's scores."""
        return -prediction.mean() if target_is_real else prediction.mean()


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], Prediction],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): ``weight * mean((||grad D(x_hat)||_2 - 1)^2)``.

    ``x_hat`` are random per-sample interpolates between ``real`` and ``fake`` (both detached).
    The graph is kept (``create_graph=True``) so the penalty back-propagates into the
    discriminator's parameters. For multi-scale discriminators the gradient is that of the sum
    of all scales' logits.

    Args:
        discriminator: Module or function returning logits (see :func:`flatten_predictions`).
        real: Real images.
        fake: Fake images, same shape.
        weight: Penalty weight (lambda; 10 in the paper).
        generator: Optional ``torch.Generator`` for reproducible interpolation weights; the
            weights are drawn on its device and moved to ``real``'s device.

    Returns:
        Scalar penalty (float32 for half / bfloat16 inputs).

    Raises:
        InputError: ``real`` and ``fake`` differ in shape or are not at least 2-d.

    Shape:
        - real, fake: :math:`(N, *)`; output: scalar.
    """
    if real.shape != fake.shape or real.ndim < 2:
        raise InputError(
            f"gradient_penalty needs real and fake of the same (N, ...) shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    n = real.shape[0]
    alpha_shape = (n,) + (1,) * (real.ndim - 1)
    alpha_device = generator.device if generator is not None else real.device
    alpha = torch.rand(alpha_shape, generator=generator, device=alpha_device)
    alpha = alpha.to(device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    preds = flatten_predictions(discriminator(x_hat))
    score = preds[0].sum()
    for p in preds[1:]:
        score = score + p.sum()
    (grad,) = torch.autograd.grad(score, x_hat, create_graph=True)
    grad = _upcast(grad).flatten(1)
    norm = torch.sqrt(grad.pow(2).sum(dim=1) + 1e-12)
    return weight * (norm - 1.0).pow(2).mean()


def discriminator_loss(
    loss: Callable[..., torch.Tensor],
    discriminator: Callable[[torch.Tensor], Prediction],
    real: torch.Tensor,
    fake: torch.Tensor,
    gp_weight: float = 10.0,
) -> torch.Tensor:
    """The usual discriminator loss of one real and one fake batch.

    ``0.5 * (loss(D(real), real) + loss(D(fake), fake))``, with ``fake`` detached (the
    discriminator step must not reach the generator), plus :func:`gradient_penalty` weighted
    ``gp_weight`` when the loss asks for it (``loss.uses_gradient_penalty``, e.g. ``wgangp``).

    Args:
        loss: A GAN loss (``loss(prediction, target_is_real, for_discriminator=...)``).
        discriminator: Module or function returning logits.
        real: Real images.
        fake: Generated images of the same shape.
        gp_weight: Weight of the gradient penalty (used only when the loss asks for it).

    Returns:
        Scalar loss.

    Example:
        >>> d_loss = discriminator_loss(self.gan_loss, self.D, batch["B"], cache["fake_B"])
    """
    fake = fake.detach()
    out = 0.5 * (
        loss(discriminator(real), True, for_discriminator=True)
        + loss(discriminator(fake), False, for_discriminator=True)
    )
    if getattr(loss, "uses_gradient_penalty", False):
        out = out + gradient_penalty(discriminator, real, fake.to(real.dtype), weight=gp_weight)
    return out
