"""Errors raised by i2i (and the torch-free ``i2i_runtime``).

Every error is an :class:`I2IError`. Messages are one line and say what was expected, what was
found and how to fix it. The command-line tools print the message and exit with status 1 (the
traceback only with ``I2I_DEBUG=1``).

The full ``i2i`` package re-exports these classes from :mod:`i2i.errors`, so ``except
i2i.errors.InputError`` catches what the runtime raises: one hierarchy, not two.
"""

from __future__ import annotations


class I2IError(Exception):
    """Base class of every error i2i raises on purpose."""


class ConfigError(I2IError, ValueError):
    """A configuration key, value, option or file is wrong."""


class DatasetError(I2IError):
    """A dataset folder is missing, empty, mis-laid-out or holds unusable files."""


class ImageReadError(DatasetError):
    """One image file could not be decoded."""


class InputError(I2IError, ValueError):
    """An input image or tensor does not fit what the model expects."""
