"""Small argument and input checks shared by the i2i.nn modules (private)."""

from __future__ import annotations

import torch

from i2i.errors import ConfigError


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
