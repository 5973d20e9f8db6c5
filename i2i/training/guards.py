"""Checks the trainer makes while a run goes on: diverging losses, and crop sizes too small for
the model (turned into an error that names the smallest size that works)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import torch

from i2i.errors import ConfigError, one_line

log = logging.getLogger(__name__)

#: A logged loss mean this many times its first logged magnitude (at least 1) is "diverging",
DIVERGENCE_FACTOR = 1e4
#: and so is one above this magnitude (a run that diverged before its first log line).
DIVERGENCE_LIMIT = 1e6


class DivergenceMonitor:
    """Warn once when logged losses grow far above where they started, or are absurdly large
    from the start.

    A GAN's losses move, but they stay within a few orders of magnitude of their first values;
    losses of 1e14 (``optim.lr=1e6``) mean the run is wasting its time, while staying finite
    enough for the NaN guard never to fire.
    """

    def __init__(self, factor: float = DIVERGENCE_FACTOR, limit: float = DIVERGENCE_LIMIT) -> None:
        self.factor = factor
        self.limit = limit
        self.first: dict[str, float] = {}
        self.warned = False

    def update(self, step: int, losses: Mapping[str, float]) -> list[str]:
        """Feed one logged window's loss means; returns the warning (logged), at most once."""
        bad = []
        for key, value in losses.items():
            if not math.isfinite(value):
                continue
            base = self.first.setdefault(key, abs(value))
            if abs(value) > self.limit or abs(value) > self.factor * max(base, 1.0):
                bad.append(f"{key}={value:.3g} (first {base:.3g})")
        if not bad or self.warned:
            return []
        self.warned = True
        more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
        msg = (
            f"losses are diverging at step {step}: {', '.join(bad[:4])}{more} (above "
            f"{self.limit:.0e}, or {self.factor:.0e} times their first logged value); lower the "
            "learning rate (optim.lr) or check the data"
        )
        log.warning(msg)
        return [msg]


_TOO_SMALL = ("Expected more than 1 value per channel", "Expected more than 1 spatial element")


def is_too_small(e: BaseException) -> bool:
    """torch's error for a feature map that shrank to a single value (norms in training)."""
    return isinstance(e, ValueError) and any(s in str(e) for s in _TOO_SMALL)


def _scaled(batch: Mapping[str, Any], factor: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.ndim >= 3 and v.shape[-1] > 1 and v.shape[-2] > 1:
            shape = (v.shape[-2] * factor, v.shape[-1] * factor)
            flat = v.reshape(-1, 1, *v.shape[-2:]).float()
            up = torch.nn.functional.interpolate(flat, size=shape, mode="nearest")
            v = up.reshape(*v.shape[:-2], *shape).to(v.dtype)
        out[k] = v
    return out


def smallest_working_size(model: Any, batch: Mapping[str, Any], size: int) -> int | None:
    """The smallest of ``2x, 4x, 8x, 16x size`` at which one forward pass and every group's
    losses run without a too-small error (None: none of them, or another error)."""
    for factor in (2, 4, 8, 16):
        try:
            probe = _scaled(batch, factor)
            cache = model.forward_step(probe)
            for group in model.step_groups(0):
                model.losses(group, probe, cache)
        except ValueError as e:
            if is_too_small(e):
                continue
            return None
        except Exception:  # noqa: BLE001 - a probe: any other failure means "unknown"
            return None
        return size * factor
    return None


def too_small_error(e: ValueError, model: Any, batch: Mapping[str, Any], size: int) -> ConfigError:
    """A one-line error for torch's too-small error at the first step, with the smallest
    ``--size`` that works (found by trying larger crops of the same batch)."""
    first = one_line((str(e).splitlines() or [""])[0])
    n = next((int(v.shape[0]) for v in batch.values() if isinstance(v, torch.Tensor)), 1)
    found = smallest_working_size(model, batch, size)
    fix = (
        f"the smallest size that works with batch size {n} is {found} (--size {found})"
        if found
        else "use a larger --size (or a larger --batch-size)"
    )
    return ConfigError(
        f"--size {size} is too small for this model: a feature map shrinks to a single value "
        f"inside the network ({first}); {fix}"
    )
