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

import dataclasses
import errno
import os
import re
import signal

# the classes the torch-free runtime raises too: one hierarchy (see i2i_runtime.errors)
from i2i_runtime.errors import ConfigError, DatasetError, I2IError, ImageReadError, InputError

EXIT_FAILED = 1


def signal_exit_code(signum: int) -> int:
    """The shell convention for a command ended by signal ``signum``: 128 + N (SIGTERM: 143)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


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


class Interrupted(I2IError):
    """A command stopped early because of a signal (or a stop request), after saving its work.

    Attributes:
        exit_code: 128 + the signal number (130 SIGINT, 143 SIGTERM); 75 (``EX_TEMPFAIL``,
            "try again later") for a stop requested without a signal, e.g. by a plugin.
    """

    def __init__(self, message: str, signum: int | None = None) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = signal_exit_code(signum) if signum else 75


class StopSignal(KeyboardInterrupt):
    """Raised in the main thread when a stop signal (SIGTERM) arrives during a command.

    A ``KeyboardInterrupt`` subclass, so cleanup written for Ctrl-C runs for SIGTERM too and
    ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def add_note(e: BaseException, note: str) -> None:
    """Attach a note to an exception (PEP 678; :func:`describe_failure` appends notes)."""
    if hasattr(e, "add_note"):
        e.add_note(note)
    else:  # Python 3.10
        notes = list(getattr(e, "__notes__", []))
        e.__notes__ = [*notes, note]  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class Failure:
    """What a user is told about an exception.

    Attributes:
        message: One line: what failed, the file, what to do.
        exit_code: The process exit status (1, or 128 + signal).
        status: ``failed`` or ``interrupted`` (the run status a trainer records).
        expected: False for an unexpected exception (a bug): the message asks for ``--debug``.
    """

    message: str
    exit_code: int
    status: str
    expected: bool = True


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) collapsed to one space."""
    return " ".join(str(text).split())


_OS_ERRORS: dict[int, str] = {
    errno.ENOSPC: "no space left on device{at}; free disk space or write to another disk",
    errno.EROFS: "read-only file system{at}; choose a writable folder (e.g. another --out)",
    errno.EACCES: "permission denied{at}; fix the permissions or choose another folder",
    errno.EPERM: "operation not permitted{at}; fix the permissions or choose another folder",
    errno.ENOENT: "no such file or folder{at}; check the path",
    errno.ENOTDIR: "not a folder{at}; a part of the path is a file",
    errno.EISDIR: "is a folder{at}, expected a file",
    errno.EMFILE: "too many open files{at}; raise the limit (ulimit -n) or use fewer --workers",
    errno.ENOMEM: "out of memory{at}; use smaller inputs or a machine with more memory",
    errno.EIO: "input/output error{at}; the disk or network file system failed, check it",
}
if hasattr(errno, "EDQUOT"):
    _OS_ERRORS[errno.EDQUOT] = "disk quota exceeded{at}; free space in your quota or write there"


def describe_os_error(e: OSError) -> str:
    """One line for an ``OSError``: what happened, the file, what to do."""
    name = e.filename if e.filename is not None else None
    at = f": {name}" if name is not None else ""
    if e.filename2 is not None:
        at += f" -> {e.filename2}"
    template = _OS_ERRORS.get(e.errno or -1)
    if template is not None:
        return template.format(at=at)
    what = e.strerror or (one_line(str(e)) if e.errno is None else "") or type(e).__name__
    if e.errno is None:
        at = ""  # str(e) of an OSError without errno is all there is
    code = errno.errorcode.get(e.errno or -1, "")
    return f"{what}{f' ({code})' if code else ''}{at}"


_OS_ERROR_IN_TEXT = re.compile(r"os error (\d+)")
_OOM = re.compile(
    r"out of memory|can't allocate memory|cannot allocate memory|DefaultCPUAllocator|"
    r"std::bad_alloc|Failed to allocate memory",
    re.IGNORECASE,
)
_TRIED = re.compile(r"tried to allocate ([\d.]+) ?(bytes|[KMGT]i?B)", re.IGNORECASE)


def os_error_in(e: BaseException) -> OSError | None:
    """The ``OSError`` behind ``e``: itself, its cause/context, or an ``(os error N)`` that a
    library (safetensors) put into its message."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError):
            return cur
        m = _OS_ERROR_IN_TEXT.search(str(cur))
        if m and not isinstance(cur, OSError):
            code = int(m.group(1))
            return OSError(code, os.strerror(code))
        cur = cur.__cause__ or cur.__context__
    return None


def _memory_message(e: BaseException) -> str:
    text = str(e)
    m = _TRIED.search(text)
    size = ""
    if m:
        value, unit = m.groups()
        if unit.lower() == "bytes":
            size = f" (tried to allocate {float(value) / 1e9:.2f} GB)"
        else:
            size = f" (tried to allocate {value} {unit})"
    where = "GPU" if re.search(r"CUDA|MPS|GPU", text) else "CPU"
    return (
        f"out of {where} memory{size}; use a smaller batch, smaller images or a smaller model "
        "(or fewer DataLoader workers), or a machine with more memory"
    )


def is_out_of_memory(e: BaseException) -> bool:
    """``MemoryError``, or an allocator failure of torch / onnxruntime (CPU or GPU)."""
    if isinstance(e, MemoryError):
        return True
    if isinstance(e, OSError) and e.errno == errno.ENOMEM:
        return True
    if type(e).__name__ == "OutOfMemoryError":
        return True
    return isinstance(e, RuntimeError) and bool(_OOM.search(str(e)))


def _notes(e: BaseException) -> str:
    notes = [one_line(n) for n in getattr(e, "__notes__", []) or [] if str(n).strip()]
    return "".join(f"; {n}" for n in notes)


def describe_failure(e: BaseException) -> Failure:
    """The one line, exit status and run status for any exception (see the module docstring).

    Example:
        >>> describe_failure(ConfigError("'train.steps' must be >= 0, got -5")).exit_code
        1
        >>> describe_failure(StopSignal(signal.SIGTERM)).exit_code
        143
    """
    if isinstance(e, Interrupted):
        return Failure(one_line(str(e)) + _notes(e), e.exit_code, "interrupted")
    if isinstance(e, KeyboardInterrupt):
        signum = getattr(e, "signum", signal.SIGINT)
        msg = f"stopped by {signal_name(signum)}" + _notes(e)
        return Failure(msg, signal_exit_code(signum), "interrupted")
    if isinstance(e, I2IError):
        msg = one_line(str(e)) or type(e).__name__
        return Failure(msg + _notes(e), EXIT_FAILED, "failed")
    if is_out_of_memory(e):
        return Failure(_memory_message(e) + _notes(e), EXIT_FAILED, "failed")
    os_err = os_error_in(e) if isinstance(e, Exception) else None
    if os_err is not None:
        return Failure(describe_os_error(os_err) + _notes(e), EXIT_FAILED, "failed")
    first = (str(e).strip().splitlines() or [""])[0].strip()
    detail = f": {first[:300]}" if first else ""
    msg = (
        f"unexpected {type(e).__name__}{detail}{_notes(e)} (a bug in i2i or a plugin; rerun "
        "with --debug for the traceback and report it)"
    )
    return Failure(msg, EXIT_FAILED, "failed", expected=False)


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
