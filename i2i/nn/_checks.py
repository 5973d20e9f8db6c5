"""Small argument and input checks shared by the i2i.nn modules (private)."""

from __future__ import annotations

import torch

from i2i.errors import ConfigError, InputError


def check_int(name: str, value: int, low: int) -> None:
    """Raise ConfigError unless ``value`` is an int (not bool) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices`` (listed in the message)."""
    if value not in choices:
        raise ConfigError(
            f"unknown {what} {value!r}; expected one of: {', '.join(choices)} "
            f"(set {what} to one of these)"
        )


def checking() -> bool:
    """False while tracing / compiling / exporting, where Python shape checks would be baked in."""
    return not (torch.jit.is_tracing() or torch.compiler.is_compiling())


def check_input(x: torch.Tensor, channels: int, stride: int = 1, what: str = "generator") -> None:
    """Raise InputError unless ``x`` is (N, channels, H, W) with H and W multiples of ``stride``.

    Skipped while tracing / compiling (see :func:`checking`).
    """
    if not checking():
        return
    if x.ndim != 4 or x.shape[1] != channels:
        raise InputError(
            f"{what} expects (N, {channels}, H, W) input, got {tuple(x.shape)}; "
            f"pass tensors with {channels} channels"
        )
    h, w = x.shape[-2:]
    if h % stride or w % stride:
        raise InputError(
            f"{what} input height and width must be multiples of {stride}, got {h}x{w}; "
            f"pad or crop the image to a multiple of {stride}"
        )
