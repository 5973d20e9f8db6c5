"""Errors raised by i2i, and the one mapping from any exception to what a user is told.

Every error i2i raises on purpose is an :class:`I2IError`, whose message is one line that says
what was expected, what was found and how to fix it. :func:`describe_failure` turns *any*
exception (an :class:`I2IError`, ``KeyboardInterrupt`` or a stop signal, ``MemoryError`` and
allocator failures, ``OSError`` such as a full disk or a read-only folder, or an unexpected
exception) into a :class:`Failure`: the one line, the exit status and the run status. The CLI
prints that line for every command (the traceback only with ``--debug`` or ``I2I_DEBUG=1``) and
the trainer records it in ``status.json``.

Exit statuses: 0 success, 1 failed, 128 + N stopped by signal N (130 SIGINT, 143 SIGTERM).
"""

from __future__ import annotations

import re

# the classes the torch-free runtime raises too: one hierarchy (see i2i_runtime.errors)
# and the mapping of any exception to its line and exit status (shared with i2i-run)
from i2i_runtime.errors import (
    EXIT_FAILED,
    ConfigError,
    DatasetError,
    Failure,
    I2IError,
    ImageReadError,
    ImageTooLargeError,
    InputError,
    Interrupted,
    StopSignal,
    add_note,
    describe_failure,
    describe_os_error,
    is_out_of_memory,
    one_line,
    os_error_in,
    signal_exit_code,
    signal_name,
)

__all__ = [
    "EXIT_FAILED",
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "DuplicateNameError",
    "ExportError",
    "I2IError",
    "ImageReadError",
    "ImageTooLargeError",
    "InputError",
    "NonFiniteLossError",
    "PluginError",
    "RegistryError",
    "UnknownNameError",
    "Failure",
    "Interrupted",
    "StopSignal",
    "add_note",
    "describe_failure",
    "describe_os_error",
    "is_out_of_memory",
    "one_line",
    "os_error_in",
    "signal_exit_code",
    "signal_name",
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
    """A loss term became NaN or infinite; training stopped.

    The trainer adds a note saying which checkpoint (if any) holds the last finite state.
    """

    def __init__(self, step: int, term: str, value: float) -> None:
        super().__init__(
            f"loss term '{term}' is {value} at step {step}; training stopped. Lower the learning "
            "rate, use --precision fp32, or check the data"
        )
        self.step = step
        self.term = term
        self.value = value


class NonFiniteStateError(I2IError, FloatingPointError):
    """Weights or optimizer state hold NaN or infinite values; they are never saved."""


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


def describe_load_error(e: BaseException) -> str:
    """One line for a failed ``torch.load(weights_only=True)`` / safetensors read.

    torch's own message for a file holding pickled objects suggests ``weights_only=False``
    (which would run code from the file); i2i never does that, so that advice is not repeated.
    """
    text = str(e)
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if m:
        return (
            f"it holds pickled Python objects ({m.group(1)}), not only tensors; i2i never "
            "unpickles objects from files (that could run code from the file)"
        )
    if type(e).__name__ == "UnpicklingError" or "Weights only load failed" in text:
        return (
            "it is not a tensor file written by torch.save (corrupt, truncated, another format, "
            "or Python objects that i2i never unpickles)"
        )
    os_err = os_error_in(e)
    if os_err is not None:
        return describe_os_error(os_err)
    first = (text.strip().splitlines() or [type(e).__name__])[0].strip()
    return f"{type(e).__name__}: {first[:200]}"
