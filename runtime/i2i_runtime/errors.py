"""Errors raised by i2i (and the torch-free ``i2i_runtime``), and the one mapping from any
exception to what a user is told (:func:`describe_failure`).

Every error is an :class:`I2IError`. Messages are one line and say what was expected, what was
found and how to fix it. The command-line tools print the message and exit with status 1 (the
traceback only with ``I2I_DEBUG=1``).

The full ``i2i`` package re-exports these classes from :mod:`i2i.errors`, so ``except
i2i.errors.InputError`` catches what the runtime raises: one hierarchy, not two; ``i2i`` and
``i2i-run`` end every failure with :func:`describe_failure`'s line and exit status (0 success,
1 failed, 128 + N stopped by signal N: 130 SIGINT, 143 SIGTERM).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import signal


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


class ImageTooLargeError(ImageReadError):
    """An image has more pixels than the per-image limit (read from its header, before any
    pixel is decoded), or needs more memory than a memory budget allows."""


# -- what a user is told about any exception ------------------------------------------------

EXIT_FAILED = 1


def signal_exit_code(signum: int) -> int:
    """The shell convention for a command ended by signal ``signum``: 128 + N (SIGTERM: 143)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


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
        "with --debug or I2I_DEBUG=1 for the traceback and report it)"
    )
    return Failure(msg, EXIT_FAILED, "failed", expected=False)
