"""Errors raised by i2i.

Every error is an :class:`I2IError`. Messages are one line and say what was expected, what was
found and how to fix it. The CLI prints the message and exits with status 1 (the traceback is
shown only with ``I2I_DEBUG=1``).
"""

from __future__ import annotations

# the classes the torch-free runtime raises too: one hierarchy (see i2i_runtime.errors)
from i2i_runtime.errors import ConfigError, DatasetError, I2IError, ImageReadError, InputError

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DuplicateNameError",
    "ExportError",
    "I2IError",
    "ImageReadError",
    "InputError",
    "NonFiniteLossError",
    "PluginError",
    "RegistryError",
    "UnknownNameError",
]


class RegistryError(I2IError, KeyError):
    """A name could not be registered or resolved."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownNameError(RegistryError):
    """A name is not in a registry; the message lists the known names."""


class DuplicateNameError(RegistryError):
    """Two plugins registered the same name; the message names both plugins."""


class PluginError(I2IError):
    """A plugin could not be loaded or broke the plugin contract."""


class CheckpointError(I2IError):
    """A checkpoint is missing, corrupt or does not match the model."""


class NonFiniteLossError(I2IError, FloatingPointError):
    """A loss term became NaN or infinite; training stopped."""

    def __init__(self, step: int, term: str, value: float) -> None:
        super().__init__(
            f"loss term '{term}' is {value} at step {step}; training stopped and the last good "
            "checkpoint was kept. Lower the learning rate, use --precision fp32, or check the data."
        )
        self.step = step
        self.term = term
        self.value = value


class ExportError(I2IError):
    """An ONNX export failed, or the exported model does not match PyTorch within tolerance."""


class DownloadError(I2IError):
    """A download failed: HTTP error, timeout after the retries, size or SHA-256 mismatch."""


class UnreachableError(DownloadError):
    """The file could not be fetched from this URL (no such file, an HTTP error, still failing
    after the retries): another URL for the same file may work. A file that arrived but is wrong
    (size, SHA-256) is a plain :class:`DownloadError`."""


class ArchiveError(I2IError):
    """An archive is corrupt, cannot be unpacked (e.g. the disk is full) or is unsafe."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would land outside the destination (absolute path, ``..``, a link
    pointing outside, a device file); nothing of the archive is used."""


class CorruptArchiveError(ArchiveError):
    """An archive is not a readable zip/tar file (truncated, bad CRC, wrong format)."""
